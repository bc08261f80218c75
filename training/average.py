"""Average the weights of expression runs that share a start (a weight soup, SWA over cycle ends).

    python -m training expression-average --runs runs/expression_c4 runs/expression_c4b --out runs/expression_avg

Runs continued from one checkpoint stay in one basin of the loss, where the average of their weights
is usually better than each (Izmailov et al. 2018, Wortsman et al. 2022) and costs no training. The
average's BatchNorm statistics belong to none of them, so they are measured again on the training
faces (plain and mirrored, as the mirror's two views see them). Writes RUN/best.pt and a
train_summary.json with the ingredients' lineage, so `python -m convert expression --run RUN` ships it
like any other run.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch
from torch import nn

from training import ferplus
from training.expression import to_input
from training.nets import ExpressionNet, load_expression_net


def average(nets: list[ExpressionNet]) -> ExpressionNet:
    """The mean of the nets' parameters, in a copy of the first (BatchNorm statistics still to measure)."""
    first = nets[0].state_dict()
    if any(n.state_dict()[k].shape != v.shape for n in nets[1:] for k, v in first.items()):
        raise ValueError("the runs have different architectures: only nets of one shape can be averaged")
    out = copy.deepcopy(nets[0])
    out.load_state_dict({k: torch.stack([n.state_dict()[k] for n in nets]).mean(0) if v.is_floating_point() else v
                         for k, v in first.items()})
    return out


@torch.no_grad()
def measure_batchnorm(net: ExpressionNet, faces, batch: int = 256) -> None:
    """Running mean and variance of every BatchNorm over all `faces` (uint8, T applied) and their mirrors."""
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # a cumulative average over the batches
    net.train()
    for i in range(0, len(faces), batch):
        for view in (faces[i:i + batch], faces[i:i + batch, :, ::-1]):
            net.features(to_input(view).permute(0, 3, 1, 2))
    for bn in bns:
        bn.momentum = 0.1
    net.eval()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training expression-average", description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, nargs="+", required=True, help="expression run folders with best.pt")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=ferplus.DEFAULT_NPZ)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="BatchNorm from the first N training faces only (smoke runs)")
    args = ap.parse_args(argv)
    if len(args.runs) < 2:
        ap.error("name two or more --runs to average")
    torch.set_num_threads(args.threads)
    t0 = time.monotonic()
    nets = [load_expression_net(r / "best.pt") for r in args.runs]
    net = average(nets)
    measure_batchnorm(net, ferplus.load(args.data)["train"].x[:args.limit or None])
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), args.out / "best.pt")
    summaries = [json.loads((r / "train_summary.json").read_text()) if (r / "train_summary.json").is_file() else {}
                 for r in args.runs]
    own = [{k: s.get(k) for k in ("command", "wall_seconds", "epochs_run", "best_epoch", "init")} for s in summaries]
    earlier = summaries[0].get("lineage", [])  # the ingredients share their start and its history
    command = "python -m training expression-average --runs " + " ".join(map(str, args.runs)) + f" --out {args.out}"
    summary = {
        "task": "expression", "recipe": None, "command": command,
        "average_of": [str(r) for r in args.runs], "settings": {"average_of": [str(r) for r in args.runs]},
        "data_fingerprint": summaries[0].get("data_fingerprint"), "device": "cpu",
        "wall_seconds": round(time.monotonic() - t0, 1), "parameters": sum(p.numel() for p in net.parameters()),
        "init": summaries[0].get("init"), "lineage": earlier + own,
        "total_wall_seconds": round(sum(s.get("wall_seconds") or 0 for s in summaries)
                                    + sum(r.get("wall_seconds") or 0 for r in earlier), 1),
        "epochs_run": None, "best_epoch": None,
    }
    (args.out / "train_summary.json").write_text(json.dumps(summary, indent=1))
    print(f"{args.out}/best.pt: the average of {', '.join(map(str, args.runs))}, BatchNorm measured on the training faces")
    return 0
