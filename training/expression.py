"""Train the expression model on FER+ (eight expressions): ferplus.npz or fer2013new.csv -> RUN/best.pt.

    python -m training expression --recipe training/recipes/expression.toml
    python -m training expression --data ../shared/data/ferplus/ferplus.npz --out runs/expression

The targets mix the cleaned FER+ vote distribution with FER2013's own label (`--ferplus-weight`), and
the checkpoint is chosen on val by the mean of two measures: FER+ accuracy by the published protocol,
and macro recall on FER2013's labels. Test is read only by `convert` and the report.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edge.state import EXPRESSIONS
from training import ferplus
from training.augment import AugmentConfig, augment
from training.metrics import summarize
from training.nets import ExpressionNet, deepen, load_expression_net
from training.trainer import predict

PIXEL_SCALE, PIXEL_OFFSET = 1 / 127.5, -1.0
DEFAULT_DATA = ferplus.DEFAULT_NPZ


def to_input(x_uint8: np.ndarray) -> torch.Tensor:
    """(N, 48, 48) uint8 -> (N, 48, 48, 1) float in [-1, 1]: pixel_scale 1/127.5, offset -1."""
    return torch.from_numpy(np.ascontiguousarray(x_uint8)).float().div_(127.5).sub_(1.0).unsqueeze(-1)


@dataclass
class ValSet:
    """What selection reads on one split: FER+ majority labels (-1 = dropped by the protocol) and
    FER2013's own labels (-1 = unmatched)."""

    x: torch.Tensor
    majority: np.ndarray
    fer_y: np.ndarray

    @classmethod
    def of(cls, part: ferplus.FerPlus) -> "ValSet":
        return cls(to_input(part.x), part.majority, part.fer_y)

    def score(self, probs: np.ndarray) -> dict[str, Any]:
        """FER+ protocol accuracy with per-class recall, FER2013 macro recall, and their mean."""
        keep = self.majority >= 0
        out = summarize(self.majority[keep], probs[keep], list(EXPRESSIONS))
        out["ferplus_kept"] = int(keep.sum())
        out["fer2013_macro_recall"] = round(ferplus.macro_recall_fer(self.fer_y, probs), 4)
        out["score"] = (out["accuracy"] + out["fer2013_macro_recall"]) / 2
        return out


class ExpressionTask:
    """FER+ faces with mixed soft targets; a class weight per expression so contempt and disgust
    (under 1% of the faces each) are learned at all."""

    def __init__(self, splits: ferplus.Splits, ferplus_weight: float, class_weight_power: float = 0.3,
                 device: str = "cpu"):
        train = splits["train"]
        t = ferplus.targets(train, ferplus_weight)
        use = t.sum(1) > 0
        self.x = to_input(train.x[use])
        self.t = torch.from_numpy(t[use])
        mass = self.t.sum(0).numpy().astype(float)
        w = (mass.max() / np.maximum(mass, 1)) ** class_weight_power
        self.class_weight = torch.tensor(w / (w * mass).sum() * mass.sum(), dtype=torch.float32).to(device)
        self.val = {s: ValSet.of(splits[s]) for s in ("val",) if len(splits[s].x)}
        self.aug = AugmentConfig()
        self.device = device

    @property
    def train_size(self) -> int:
        return len(self.x)

    def train_batches(self, batch_size: int, generator: torch.Generator):
        order = torch.randperm(len(self.x), generator=generator)
        for i in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[i:i + batch_size]
            yield augment(self.x[idx], self.aug).to(self.device), self.t[idx].to(self.device)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Soft cross-entropy, class-weighted by the target's mass (as weighted CE is for hard labels)."""
        wt = targets * self.class_weight
        return -(wt * outputs.float().log_softmax(-1)).sum() / wt.sum().clamp_min(1e-9)

    def evaluate(self, model: torch.nn.Module, split: str, flip: bool = False) -> dict[str, Any]:
        return self.val[split].score(predict(model, self.val[split].x, flip=flip))


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="ferplus.npz, or fer2013new.csv with "
                    "Kaggle's fer2013.csv beside it (or named by --pixels-csv)")
    ap.add_argument("--pixels-csv", type=Path, help="fer2013.csv for fer2013new.csv's pixels")
    ap.add_argument("--ferplus-weight", type=float, default=0.8, help="share of each target taken from the "
                    "FER+ vote distribution; the rest is FER2013's own one-hot label")
    ap.add_argument("--class-weight-power", type=float, default=0.3,
                    help="class weight (largest class mass / class mass) ** power")
    ap.add_argument("--convs", type=int, nargs=4, default=[2, 2, 2, 2], metavar="N",
                    help="3x3 convs in each of the four stages; with --init from a shallower run the extra "
                    "convs start as identities (Net2DeeperNet)")


def build(args: argparse.Namespace, device: str) -> tuple[torch.nn.Module, ExpressionTask, dict[str, Any]]:
    splits = ferplus.load(args.data, args.pixels_csv)
    if args.limit:
        for part in splits.parts.values():
            part.x, part.votes, part.fer_y = part.x[:args.limit], part.votes[:args.limit], part.fer_y[:args.limit]
    task = ExpressionTask(splits, args.ferplus_weight, args.class_weight_power, device)
    net = ExpressionNet(classes=len(EXPRESSIONS), convs=tuple(args.convs))
    if args.init:
        deepen(net, load_expression_net(args.init), task.x[:512])
    info = {"data": splits.source, "data_fingerprint": splits.fingerprint, "net": {"convs": list(args.convs)},
            "train_faces": len(task.x)}
    return net, task, info
