"""Can a second head on FER2013's own labels keep the expression model sensitive? A probe on val.

    python -m training expression-aux-head --run runs/expression_c3 [--limit N]

Issue #17 asks for two things that pull apart: FER+ accuracy (the crowd's votes, where relaxed faces
read neutral) and macro recall on FER2013's own labels (where many of those faces are sad or angry).
This fits a linear FER2013 head on the run's frozen conv features (plain and mirrored faces, class
weighted), then mixes its probabilities into the FER+ head's, p = (1 - beta) FER+ + beta aux, and
prints both measures on val for each beta: the trade-off a shared-trunk auxiliary head would offer
the mirror. Test is never read here.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from edge.state import EXPRESSIONS
from training import ferplus
from training.expression import ValSet, to_input
from training.nets import ExpressionNet, load_expression_net

BETAS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)


@torch.no_grad()
def features(net: ExpressionNet, x: np.ndarray, batch: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """(flattened conv map, FER+ probabilities) of each face, averaged over it and its mirror
    (the mirror's 2 views); the map is what the head reads, so a linear probe sees all of it."""
    feats, probs = [], []
    for i in range(0, len(x), batch):
        f_views, p_views = [], []
        for view in (x[i:i + batch], x[i:i + batch, :, ::-1]):
            conv_map = net.features(to_input(view).permute(0, 3, 1, 2))
            f_views.append(conv_map.flatten(1))
            p_views.append(torch.softmax(net.head(conv_map), 1))
        feats.append(torch.stack(f_views))
        probs.append((p_views[0] + p_views[1]) / 2)
    return torch.cat(feats, 1), torch.cat(probs)


def fit_aux(feats: torch.Tensor, fer_y: np.ndarray, epochs: int = 60, seed: int = 0) -> torch.nn.Module:
    """A standardised linear head on FER2013's labels, weighted by inverse class frequency."""
    keep = torch.from_numpy(fer_y >= 0)
    x = feats[:, keep].reshape(-1, feats.shape[-1])  # both views are training samples
    y = torch.from_numpy(fer_y[fer_y >= 0]).repeat(feats.shape[0])
    mu, sd = x.mean(0), x.std(0) + 1e-3
    counts = torch.bincount(y, minlength=len(EXPRESSIONS)).float()
    weight = torch.where(counts > 0, counts.max() / counts.clamp(min=1), torch.zeros_like(counts))
    lin = torch.nn.Linear(x.shape[1], len(counts))
    head = torch.nn.Sequential(Standardise(mu, sd), lin)
    opt = torch.optim.Adam(lin.parameters(), 1e-3, weight_decay=1e-4)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=g).split(512):
            loss = torch.nn.functional.cross_entropy(head(x[idx]), y[idx], weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return head.eval()


class Standardise(torch.nn.Module):
    def __init__(self, mu: torch.Tensor, sd: torch.Tensor):
        super().__init__()
        self.mu, self.sd = mu, sd

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mu) / self.sd


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training expression-aux-head", description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True, help="an expression run folder with best.pt")
    ap.add_argument("--data", type=Path, default=ferplus.DEFAULT_NPZ)
    ap.add_argument("--limit", type=int, default=0, help="only the first N faces of each split (smoke runs)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    splits = ferplus.load(args.data)
    net = load_expression_net(args.run / "best.pt")
    cut = slice(None, args.limit or None)
    train_f, _ = features(net, splits["train"].x[cut])
    head = fit_aux(train_f, splits["train"].fer_y[cut])
    val = splits["val"]
    val_f, ferplus_p = features(net, val.x[cut])
    with torch.no_grad():
        aux_p = sum(torch.softmax(head(v), 1) for v in val_f).numpy() / len(val_f)
    scorer = ValSet(None, val.majority[cut], val.fer_y[cut])
    rows = trade_off(ferplus_p.numpy(), aux_p, scorer)
    if args.json:
        print(json.dumps({"run": str(args.run), "split": "val", "views": 2, "float": True, "rows": rows}, indent=1))
        return 0
    shown = ("neutral", "sad", "angry", "fear")
    print(f"{args.run}, val, float, 2 views: p = (1 - beta) FER+ head + beta FER2013 head")
    print("| beta | FER+ accuracy | FER2013 macro recall | mean | " + " | ".join(f"{c} recall" for c in shown) + " |")
    print("|---" * (4 + len(shown)) + "|")
    for r in rows:
        print(f"| {r['beta']} | {r['ferplus_val_accuracy']:.4f} | {r['fer2013_val_macro_recall']:.4f} | {r['mean']:.4f} | "
              + " | ".join(f"{r['recall'][c]:.3f}" for c in shown) + " |")
    return 0


def trade_off(ferplus_p: np.ndarray, aux_p: np.ndarray, scorer: ValSet) -> list[dict]:
    """Both measures (and FER+ recall per class) for each mix of the two heads."""
    rows = []
    for beta in BETAS:
        s = scorer.score((1 - beta) * ferplus_p + beta * aux_p)
        rows.append({"beta": beta, "ferplus_val_accuracy": round(s["accuracy"], 4),
                     "fer2013_val_macro_recall": s["fer2013_macro_recall"], "mean": round(s["score"], 4),
                     "recall": {k: round(v, 3) for k, v in s["recall"].items()}})
    return rows
