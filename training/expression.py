"""Train the expression model: FER2013 (npz, Kaggle csv or class folders) -> runs/expression/best.pt.

    python -m training.expression --data ../shared/data/fer2013/fer2013.npz --out runs/expression

Selection is on val (PublicTest); test (PrivateTest) is read only by the final report.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from training import fer
from training.augment import AugmentConfig, augment
from training.metrics import summarize
from training.nets import ExpressionNet, deepen, load_expression_net
from training.trainer import TrainConfig, follow_teacher, lineage_summary, predict, train



def to_input(x_uint8: np.ndarray) -> torch.Tensor:
    """(N, 48, 48) uint8 -> (N, 48, 48, 1) float in [-1, 1]: pixel_scale 1/127.5, offset -1."""
    return torch.from_numpy(x_uint8).float().div_(127.5).sub_(1.0).unsqueeze(-1)


PIXEL_SCALE, PIXEL_OFFSET = 1 / 127.5, -1.0
DEFAULT_DATA = fer.DEFAULT_NPZ


def require_same_rows(labels: np.ndarray, train_y: np.ndarray, what: str, command: str) -> None:
    """Files made beside the training data (edge crops, soft labels) are matched to it by row; their
    labels must agree row by row, or they were made from another copy or order of the data (a csv, a folder)."""
    n = len(train_y)
    if len(labels) < n or not np.array_equal(labels[:n], train_y):
        raise ValueError(f"{what} from other training data (labels differ row by row); "
                         f"make them from this data with python -m {command}")


@dataclass
class EdgeCrops:
    """Faces cut the edge's way (`training.edge_crops`): train copies to mix in, val to select on."""

    train: torch.Tensor  # (copies, N, 48, 48, 1) model input; rows BlazeFace missed are unused
    train_found: torch.Tensor  # (copies, N) bool
    val: torch.Tensor  # (M, 48, 48, 1): only the val faces BlazeFace found
    val_y: torch.Tensor
    mix: float = 0.5  # chance a training face is replaced by one of its edge crops

    @classmethod
    def load(cls, train_npz: Path, val_npz: Path, train_y: np.ndarray, mix: float) -> "EdgeCrops":
        tr, va = np.load(train_npz), np.load(val_npz)
        n = len(train_y)
        require_same_rows(tr["labels"], train_y, "the crops were cut", "training.edge_crops")
        vfound = va["found"][0]
        return cls(torch.stack([to_input(c) for c in tr["crops"][:, :n]]), torch.from_numpy(tr["found"][:, :n]),
                   to_input(va["crops"][0][vfound]), torch.from_numpy(va["labels"][vfound].astype(np.int64)), mix)

    def swap(self, x: torch.Tensor, idx: torch.Tensor,
             generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x = the batch's dataset crops; some become a found edge crop of the same face.

        Returns the batch, which rows were swapped (take) and from which copy: soft labels follow.
        """
        copy = torch.randint(len(self.train), (len(idx),), generator=generator)
        take = (torch.rand(len(idx), generator=generator) < self.mix) & self.train_found[copy, idx]
        if take.any():
            x = x.clone()
            x[take] = self.train[copy[take], idx[take]]
        return x, take, copy


@dataclass
class Teacher:
    """Soft labels matched to the training faces (and their edge crops) row by row."""

    train: torch.Tensor  # (N, classes)
    edge: torch.Tensor | None  # (copies, N, classes), zero where BlazeFace missed the face
    weight: float = 0.7  # share of the loss that follows the teacher; the rest follows the labels
    made_by: dict[str, Any] = field(default_factory=dict)  # training.distill's record, for train_summary.json

    @classmethod
    def load(cls, path: Path, train_y: np.ndarray, weight: float, need_edge: bool = False) -> "Teacher":
        z = np.load(path)
        require_same_rows(z["labels"], train_y, "the soft labels were made", "training.distill")
        if need_edge and "edge" not in z.files:
            raise ValueError("no soft labels for the edge crops; make it with --edge-crops")
        n = len(train_y)
        edge = torch.from_numpy(z["edge"][:, :n]) if "edge" in z.files else None
        made_by = {"path": str(path), "weight": weight}
        if "views" in z.files:
            made_by |= {"views": int(z["views"]), "teachers": json.loads(str(z["teachers"]))}
        return cls(torch.from_numpy(z["train"][:n]), edge, weight, made_by)


class ExpressionTask:
    def __init__(self, splits: fer.Splits, label_smoothing: float = 0.1, class_weight_power: float = 0.3,
                 edge: EdgeCrops | None = None, teacher: Teacher | None = None):
        self.x = {s: to_input(v) for s, v in splits.x.items() if len(v)}
        self.y = {s: torch.from_numpy(v) for s, v in splits.y.items() if len(v)}
        self.edge = edge
        self.teacher = teacher
        counts = np.bincount(splits.y["train"], minlength=len(fer.CLASSES)).astype(float)
        # Mild re-weighting: disgust (1.5% of train) gets seen, accuracy on the rest barely moves.
        w = (counts.max() / np.maximum(counts, 1)) ** class_weight_power
        self.class_weight = torch.tensor(w / (w * counts).sum() * counts.sum(), dtype=torch.float32)
        self.label_smoothing = label_smoothing
        self.aug = AugmentConfig()

    def train_batches(self, batch_size: int, generator: torch.Generator):
        """(augmented faces, labels), or (faces, (labels, the teacher's soft labels for those very crops))."""
        x, y, t = self.x["train"], self.y["train"], self.teacher
        order = torch.randperm(len(x), generator=generator)
        for i in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[i:i + batch_size]
            xb, soft = x[idx], (t.train[idx] if t else None)
            if self.edge:
                xb, take, copy = self.edge.swap(xb, idx, generator)
                if t is not None and t.edge is not None and take.any():
                    soft = soft.clone()
                    soft[take] = t.edge[copy[take], idx[take]]
            yield augment(xb, self.aug), (y[idx] if soft is None else (y[idx], soft))

    def loss(self, outputs: torch.Tensor, targets) -> torch.Tensor:
        labels, soft = targets if isinstance(targets, tuple) else (targets, None)
        hard = F.cross_entropy(outputs, labels, weight=self.class_weight, label_smoothing=self.label_smoothing)
        if soft is None:
            return hard
        return follow_teacher(hard, outputs, soft, self.teacher.weight)

    def evaluate(self, model: torch.nn.Module, split: str, flip: bool = False) -> dict[str, Any]:
        probs = predict(model, self.x[split], flip=flip)
        out = summarize(self.y[split].numpy(), probs, fer.CLASSES)
        if self.edge is not None and split == "val":
            # Select for the mirror, not for the dataset: half the score is the edge-cut val faces.
            edge_acc = summarize(self.edge.val_y.numpy(), predict(model, self.edge.val, flip=flip),
                                 fer.CLASSES)["accuracy"]
            out.update(edge_accuracy=edge_acc, score=(out["accuracy"] + edge_acc) / 2)
        return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=fer.DEFAULT_NPZ, help="fer2013.npz, fer2013.csv or a folder")
    ap.add_argument("--out", type=Path, default=Path("runs/expression"))
    ap.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    ap.add_argument("--lr", type=float, default=TrainConfig.lr)
    ap.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    ap.add_argument("--max-minutes", type=float, default=0.0, help="stop cleanly after this wall time")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N train/val images (smoke runs)")
    ap.add_argument("--fresh", action="store_true", help="ignore a checkpoint in --out instead of resuming")
    ap.add_argument("--init", type=Path, help="start from these weights (a run's best.pt): a second cycle "
                    "of the schedule, which on two cores buys more epochs than one longer run could")
    ap.add_argument("--convs", type=int, nargs=4, default=[2, 2, 2, 2], metavar="N",
                    help="3x3 convs in each of the four stages; with --init from a shallower run the extra "
                    "convs start as identities (Net2DeeperNet)")
    ap.add_argument("--warmup-frac", type=float, default=TrainConfig.warmup_frac)
    ap.add_argument("--patience", type=int, default=TrainConfig.patience,
                    help="epochs without a better val score before stopping early")
    ap.add_argument("--edge-crops", type=Path, nargs=2, metavar=("TRAIN_NPZ", "VAL_NPZ"),
                    help="mix in faces cut the edge's way (python -m training.edge_crops) and select on "
                    "the mean of dataset-crop and edge-crop val accuracy")
    ap.add_argument("--edge-mix", type=float, default=EdgeCrops.mix)
    ap.add_argument("--teacher", type=Path, help="soft labels from python -m training.distill (born-again "
                    "distillation of earlier cycles and the mirror's test-time views)")
    ap.add_argument("--teacher-weight", type=float, default=0.7, help="share of the loss that follows the teacher")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        splits = fer.load(args.data)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.limit:
        for s in splits.x:
            splits.x[s], splits.y[s] = splits.x[s][: args.limit], splits.y[s][: args.limit]
    edge = None
    if args.edge_crops:
        try:
            edge = EdgeCrops.load(*args.edge_crops, splits.y["train"], args.edge_mix)
        except (OSError, KeyError, ValueError) as e:
            print(f"error: edge crops {args.edge_crops[0]}: {e}", file=sys.stderr)
            return 2
    teacher = None
    if args.teacher:
        try:
            teacher = Teacher.load(args.teacher, splits.y["train"], args.teacher_weight, need_edge=edge is not None)
        except (OSError, KeyError, ValueError) as e:
            print(f"error: teacher {args.teacher}: {e}", file=sys.stderr)
            return 2
    task = ExpressionTask(splits, edge=edge, teacher=teacher)
    cfg = TrainConfig(epochs=args.epochs, lr=args.lr, batch_size=min(args.batch_size, len(splits.x["train"])),
                      max_minutes=args.max_minutes, warmup_frac=args.warmup_frac, patience=args.patience)
    steps = len(splits.x["train"]) // cfg.batch_size
    net = ExpressionNet(convs=tuple(args.convs))
    if args.init:
        try:
            deepen(net, load_expression_net(args.init), to_input(splits.x["train"][:512]))
        except (OSError, RuntimeError, ValueError) as e:
            print(f"error: --init {args.init}: {e}".splitlines()[0], file=sys.stderr)
            return 2
    t0 = time.monotonic()
    model, history = train(net, task, cfg, args.out, steps, resume=not args.fresh)
    summary = {
        "data": splits.source,
        "data_fingerprint": splits.fingerprint,
        "command": "python -m training.expression " + " ".join(argv if argv is not None else sys.argv[1:]),
        "wall_seconds": round(history.wall_seconds, 1),
        "session_seconds": round(time.monotonic() - t0, 1),
        "best_epoch": history.best_epoch,
        "epochs_run": len(history.epochs),
        "parameters": sum(p.numel() for p in model.parameters()),
        "net": {"convs": list(args.convs)},
        "config": cfg.__dict__,
        # Earlier cycles this run continued from: total wall time is the sum over them.
        **lineage_summary(args.init, history.wall_seconds),
    }
    if teacher is not None:
        summary["teacher"] = teacher.made_by
    (args.out / "train_summary.json").write_text(json.dumps(summary, indent=1))
    logging.getLogger("training").info("best val %.4f at epoch %d", history.best_score, history.best_epoch + 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
