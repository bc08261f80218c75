"""A teacher's soft labels for the expression model: earlier cycles, averaged over the mirror's views.

    python -m training.distill --teachers runs/expression2/best.pt runs/expression3/best.pt \\
        --edge-crops runs/edge_crops/train.npz --out runs/teacher.npz

FER2013's labels are noisy (human agreement is ~65%), and a one-hot target asks the net to be sure
of faces nobody is sure of. The shipped model already averages four views at test time; a student
that learns those averaged probabilities (born-again distillation) gets the views' knowledge and
the earlier cycles' into one set of weights, at no cost on the Pi. The teacher runs once, here,
on the un-augmented faces: on two cores, running it inside every training step would halve the epochs.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from edge.classify import tta_views
from training import fer
from convert.manifest import sha256_file
from training.expression import require_same_rows, to_input
from training.nets import load_expression_net


def view_probs(models: list[torch.nn.Module], faces: np.ndarray, views: int = 4,
               batch_size: int = 1024) -> np.ndarray:
    """(N, 48, 48) preprocessed uint8 faces -> (N, classes) softmax averaged over models and views."""
    out = []
    with torch.no_grad():
        for i in range(0, len(faces), batch_size):
            chunk = faces[i:i + batch_size]
            stacks = [np.stack(v) for v in zip(*(tta_views(f, views) for f in chunk))]
            p = sum(m(to_input(np.ascontiguousarray(s))).softmax(-1) for m in models for s in stacks)
            out.append(p / (len(models) * len(stacks)))
    return torch.cat(out).numpy().astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=fer.DEFAULT_NPZ)
    ap.add_argument("--teachers", type=Path, nargs="+", required=True, help="best.pt of earlier runs")
    ap.add_argument("--edge-crops", type=Path, help="train edge crops (training.edge_crops) to label as well")
    ap.add_argument("--views", type=int, choices=(1, 2, 4), default=4)
    ap.add_argument("--out", type=Path, default=Path("runs/teacher.npz"))
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    try:
        splits = fer.load(args.data)
        models = [load_expression_net(path) for path in args.teachers]
        edge = np.load(args.edge_crops) if args.edge_crops else None
    except (OSError, RuntimeError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    y = splits.y["train"]
    if edge is not None:  # before minutes of labelling, not after
        try:
            require_same_rows(edge["labels"], y, "the crops were cut", "training.edge_crops")
        except (KeyError, ValueError) as e:
            print(f"error: {args.edge_crops}: {e}", file=sys.stderr)
            return 2
    torch.set_num_threads(2)
    out = {"train": view_probs(models, splits.x["train"], args.views), "labels": y}
    if edge is not None:
        crops, found = edge["crops"][:, :len(y)], edge["found"][:, :len(y)]
        soft = np.zeros((*found.shape, out["train"].shape[1]), np.float32)
        for c in range(len(crops)):
            soft[c, found[c]] = view_probs(models, crops[c][found[c]], args.views)
        out["edge"] = soft
    args.out.parent.mkdir(parents=True, exist_ok=True)
    teachers = [{"path": str(p), "sha256": sha256_file(p)} for p in args.teachers]
    np.savez_compressed(args.out, **out, teachers=json.dumps(teachers), views=args.views)
    acc = float((out["train"].argmax(1) == y).mean())
    print(json.dumps({"faces": len(y), "teachers": teachers, "views": args.views,
                      "teacher_train_accuracy": round(acc, 4), "seconds": round(time.monotonic() - t0, 1),
                      "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
