"""Train the attribute model (mask, eyewear, glasses shape) on the shared loop.

    python -m training attributes --recipe training/recipes/attributes.toml

The data (training/attribute_data.py) is the face-attribute photos and `eyewear_wild`, each cut the
way the Pi cuts a face. Unknown labels are masked out of the loss; `glasses_unknown` supervises only
"some eyewear vs none"; an `other` frame (cat-eye, browline) asks the shape head to be unsure.
Selection is on val (and eyewear_wild's val when it is used); test is read only for the final report.
`--teacher RUN ...` adds earlier runs' averaged probabilities as soft targets (born-again distillation).
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from edge.model_files import sha256_file
from edge.perceive.crop import FILTERS
from training import lenses, live_views, paired_views, steadiness, views
from training.attribute_data import (CLASSES, CROP, DEFAULT_DATA, OTHER_SHAPE, PIXEL_OFFSET, PIXEL_SCALE, SIZE,
                                     SOME_EYEWEAR, SPLITS, UNKNOWN, WILD_SPLIT, AttributeData,
                                     crop_cache, data_for, prepare, run_crop, run_size, to_input)
from training.augment import AugmentConfig, augment
from training.metrics import summarize
from training.nets import AttributeNet
from training.trainer import follow_teacher, predict

log = logging.getLogger("training")

__all__ = ["CLASSES", "CROP", "DEFAULT_DATA", "PIXEL_OFFSET", "PIXEL_SCALE", "SIZE", "SOME_EYEWEAR", "SPLITS",
           "UNKNOWN", "AttributeData", "crop_cache", "data_for", "prepare", "run_crop", "run_size", "to_input"]


def _class_weights(codes: np.ndarray, n: int) -> torch.Tensor:
    counts = np.bincount(codes[codes >= 0], minlength=n).astype(float)
    if not counts.any():  # no labelled row of this head (a small test set): nothing to balance
        return torch.ones(n, dtype=torch.float32)
    w = (counts.sum() / np.maximum(counts, 1) / n) ** 0.5  # sqrt-balanced: rare classes count more
    return torch.tensor(w / w.mean(), dtype=torch.float32)


@dataclass
class AttributeTeacher:
    """Earlier attribute runs' probabilities on the un-augmented training crops, plain and mirrored.

    The labels of round vs rectangular frames are often a judgement call (ovals, half-rims); earlier
    models' averaged probabilities say how sure to be. The teacher runs once, before training."""

    probs: dict[str, torch.Tensor]  # head -> (N_train, classes)
    weight: float = 0.7  # share of each head's loss that follows the teacher, on rows with that head's label
    made_by: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_runs(cls, runs: list[Path], x_train: np.ndarray, weight: float) -> "AttributeTeacher":
        size = x_train.shape[1]
        x = to_input(x_train)
        total: dict[str, np.ndarray] = {}
        for run in runs:
            if run_size(run) != size:
                raise ValueError(f"{run} was trained at {run_size(run)} px, these crops are {size} px")
            net = AttributeNet(size=size)
            net.load_state_dict(torch.load(run / "best.pt"))
            for head, p in predict(net, x, flip=True).items():
                total[head] = total.get(head, 0) + p / len(runs)
        made_by = {"runs": [{"path": str(r / "best.pt"), "sha256": sha256_file(r / "best.pt")} for r in runs],
                   "views": 2, "weight": weight}
        return cls({h: torch.from_numpy(p) for h, p in total.items()}, weight, made_by)


class AttributesTask:
    def __init__(self, data: AttributeData, head_weights: dict[str, float] | None = None,
                 teacher: AttributeTeacher | None = None, lens: lenses.LensConfig | None = None,
                 view: views.ViewConfig | None = None, pairs: paired_views.PairConfig | None = None,
                 live: live_views.LiveViews | None = None, wild_repeat: int = 1):
        self.data = data
        self.teacher = teacher
        self.lens, self.view = lens, view  # synthetic eyewear and camera views (issue 20); None = off
        self.pairs = pairs  # two views per crop, read alike (issue 23); None = off
        self.live = live  # more cuts of each train face, from frames as the live mirror sees them (issue 23)
        own = len(data.x["train"]) - data.wild_train  # eyewear_wild's rows come last and have no frame cuts
        if live is not None and len(live.found) != own:
            raise ValueError(f"frame cuts for {len(live.found)} train faces, the crops have {own}")
        if live is not None and data.wild_train:
            live = live_views.padded(live, data.wild_train)
            self.live = live
        if teacher is not None and data.wild_train:
            teacher = replace(teacher, probs=_labels_over_teacher(teacher.probs, data.y["train"], own))
            self.teacher = teacher
        # eyewear_wild's rows (mirrored, coloured, wrap-around lenses; cat-eye frames) are few beside
        # the face-attribute photos: each is seen wild_repeat times an epoch
        n = len(data.x["train"])
        self.rows = torch.cat([torch.arange(n)] + [torch.arange(own, n)] * (wild_repeat - 1))
        self.keypoints = torch.from_numpy(data.keypoints["train"]) if lens or live else None
        # glasses_shape learns from ~8% of the photos: its loss is diluted by the others' unless weighted
        self.head_weights = {h: 1.0 for h in CLASSES} | (head_weights or {})
        self.x = {s: to_input(v) for s, v in data.x.items()}
        self.y = {s: {h: torch.from_numpy(v) for h, v in d.items()} for s, d in data.y.items()}
        self.weights = {h: _class_weights(data.y["train"][h], len(c)) for h, c in CLASSES.items()}
        self.aug = AugmentConfig(max_rotate_deg=12, scale=(0.88, 1.12), max_shift=0.06, brightness=0.3,
                                 contrast=(0.65, 1.35), erase_p=0.3, erase_area=(0.02, 0.12),
                                 colour_cast=0.15, blur_p=0.25)

    @property
    def train_size(self) -> int:
        return len(self.rows)

    def train_batches(self, batch_size: int, generator: torch.Generator):
        x, y = self.x["train"], self.y["train"]
        order = self.rows[torch.randperm(len(self.rows), generator=generator)]
        for i in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[i:i + batch_size]
            targets = {h: v[idx] for h, v in y.items()}
            kps = self.keypoints[idx] if self.keypoints is not None else None
            if self.live is None:  # one cut, shared by both paired views
                cuts = [(x[idx], kps)]
            else:
                own = torch.from_numpy(self.data.x["train"][idx.numpy()])
                picked = [self.live.pick(idx, own, kps)] if self.pairs is None else self.live.pick_pair(idx, own, kps)
                cuts = [(to_input(xb.numpy()), kp) for xb, kp in picked]
            relabelled = torch.zeros(len(idx), dtype=torch.bool)
            if self.lens is not None and self.lens.kinds:
                state, painted = torch.get_rng_state(), []
                for xb, kp in cuts:  # the same lenses on every cut of a face: the same draws
                    torch.set_rng_state(state)
                    xb, painted_targets, relabelled = lenses.apply(xb, kp, targets, self.lens)
                    painted.append(xb)
                targets, xs = painted_targets, painted
            else:
                xs = [xb for xb, _ in cuts]
            if self.view is not None:
                xs = [views.apply(xb, self.view) for xb in xs]
            if self.teacher is not None:
                targets["teacher"] = {h: p[idx] for h, p in self.teacher.probs.items()}
                if relabelled.any():  # the teacher saw the unpainted crop: follow the new label there
                    soft = targets["teacher"]["eyewear"].clone()
                    soft[relabelled] = F.one_hot(targets["eyewear"][relabelled], soft.shape[1]).float()
                    targets["teacher"]["eyewear"] = soft
            if self.pairs is None:
                yield augment(xs[0], self.aug), targets
                continue
            views_ab = [augment(paired_views.view(xs[i % len(xs)], self.pairs), self.aug) for i in range(2)]
            yield torch.cat(views_ab), paired_views.repeat_targets(targets)

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
        total = torch.zeros(())
        for head, logits in outputs.items():
            t = targets[head]
            known = t >= 0
            if known.any():
                hard = F.cross_entropy(logits[known], t[known], weight=self.weights[head], label_smoothing=0.05)
                if "teacher" in targets:  # only where the head has a label: unknowns stay unsupervised
                    hard = follow_teacher(hard, logits[known], targets["teacher"][head][known], self.teacher.weight)
                total = total + self.head_weights[head] * hard
            if head == "eyewear":
                some = t == SOME_EYEWEAR  # glasses of unknown kind: only "not none" is known
                if some.any():
                    p_none = logits[some].softmax(-1)[:, 0]
                    total = total - torch.log1p(-p_none.clamp(max=1 - 1e-6)).mean()
            if head == "glasses_shape":
                other = t == OTHER_SHAPE  # neither round nor rectangular: both answers half right
                if other.any():
                    total = total - self.head_weights[head] * logits[other].log_softmax(-1).mean()
        if self.pairs is not None:
            total = total + paired_views.divergence(outputs, self.pairs.weight)
        return total

    def evaluate(self, model: torch.nn.Module, split: str, flip: bool = False) -> dict[str, Any]:
        """With paired views the epoch is chosen for steadiness too: the mean of the heads' accuracy
        and their steadiness (training/steadiness.py), since accuracy alone keeps the first epoch."""
        probs = predict(model, self.x[split], flip=flip)
        out = evaluate_probs(probs, self.data.y[split], self.data.group[split])
        if split == "val" and WILD_SPLIT in self.x:  # eyewear_wild's val chooses the epoch too
            wild = evaluate_probs(predict(model, self.x[WILD_SPLIT], flip=flip), self.data.y[WILD_SPLIT],
                                  self.data.group[WILD_SPLIT])
            out["wild"] = {h: wild[h] for h in CLASSES} | {"shape_other": wild["shape_other"]}
            out["score"] = (out["score"] + wild["eyewear"]["balanced_accuracy"]) / 2
        if self.pairs is not None:
            steady = steadiness.steadiness(self.data.x[split], self.data.y[split],
                                           lambda xu8: predict(model, to_input(xu8), flip=flip))
            out |= {f"steady_{h}": v for h, v in steady.items()}
            out["accuracy_mean"] = out["score"]
            out["score"] = (out["score"] + steady["mean"]) / 2
        return out


def evaluate_probs(probs: dict[str, np.ndarray], y: dict[str, np.ndarray], group: np.ndarray) -> dict[str, Any]:
    """Per head on its labelled images, plus the mask/eyewear accuracy per skin group."""
    out: dict[str, Any] = {}
    for head, classes in CLASSES.items():
        known = y[head] >= 0
        out[head] = summarize(y[head][known], probs[head][known], classes)
        out[head].pop("score")
    other = y["glasses_shape"] == OTHER_SHAPE
    out["shape_other"] = {"n": int(other.sum()), "median_top_p": round(float(np.median(
        probs["glasses_shape"][other].max(1))), 4) if other.any() else None}
    some = y["eyewear"] == SOME_EYEWEAR
    if some.any():
        out["eyewear_some_vs_none_accuracy"] = round(float((probs["eyewear"][some].argmax(1) != 0).mean()), 4)
    groups = {}
    for g in sorted(set(group) - {""}):
        sel = group == g
        row = {"n": int(sel.sum())}
        for head in ("mask", "eyewear"):
            known = sel & (y[head] >= 0)
            if known.any():
                row[head] = round(float((probs[head][known].argmax(1) == y[head][known]).mean()), 4)
        groups[g] = row
    out["by_skin_group"] = groups
    out["score"] = float(np.mean([out[h]["accuracy"] for h in CLASSES]))
    return out




def _labels_over_teacher(probs: dict[str, torch.Tensor], y: dict[str, np.ndarray], own: int
                         ) -> dict[str, torch.Tensor]:
    """The teacher learned none of eyewear_wild's kinds (mirrored, coloured, wrap-around lenses):
    on those rows (from `own` on) its answer would pull the net back to its mistakes, so the target
    there is the label itself (uniform for an `other` frame; the teacher's where the label is unknown)."""
    out = {}
    for head, p in probs.items():
        p = p.clone()
        codes = torch.from_numpy(y[head][own:])
        rows = torch.arange(own, own + len(codes))
        known = codes >= 0
        p[rows[known]] = F.one_hot(codes[known], p.shape[1]).float()
        if head == "glasses_shape":
            p[rows[codes == OTHER_SHAPE]] = 1.0 / p.shape[1]
        out[head] = p
    return out


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The attribute task's own flags (the schedule's are the shared loop's, training/__main__.py)."""
    ap.set_defaults(epochs=60, lr=2e-3, batch_size=64, patience=25, threads=1)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the face-attribute photos (labels.csv)")
    ap.add_argument("--wild", type=Path, metavar="DIR",
                    help="also train on eyewear_wild's train split and choose on its val too (e.g. ../shared/data/eyewear_wild)")
    ap.add_argument("--wild-repeat", type=int, default=1, metavar="K",
                    help="each eyewear_wild train row is seen K times an epoch (they are few)")
    ap.add_argument("--cache", type=Path, help="crop cache (default runs/attribute_crops_SIZE.npz)")
    ap.add_argument("--size", type=int, default=SIZE, help="input side in pixels, a multiple of 16")
    ap.add_argument("--head-weight", action="append", default=[], metavar="HEAD=W",
                    help="scale one head's loss, e.g. glasses_shape=2 (repeatable)")
    ap.add_argument("--teacher", type=Path, nargs="+", metavar="RUN",
                    help="earlier runs (their best.pt, same --size) whose averaged plain+mirror probabilities "
                         "the net also follows")
    ap.add_argument("--teacher-weight", type=float, default=0.7, help="share of the loss that follows the teacher")
    ap.add_argument("--lenses", default="none", metavar="KINDS",
                    help=f"synthetic eyewear painted on train crops: none, all or a comma list of {','.join(lenses.KINDS)}")
    ap.add_argument("--lens-p", type=float, default=lenses.LensConfig.p, help="share of eligible crops painted")
    ap.add_argument("--camera-views", action="store_true",
                    help="camera angle (keystone) and distance (low resolution) on train crops")
    ap.add_argument("--pairs", type=float, default=0.0, metavar="WEIGHT",
                    help="two views of each crop (light, size, flip) and this weight on reading them alike; 0 = off")
    ap.add_argument("--live-views", type=int, default=0, metavar="K",
                    help="K more cuts of each train face, pasted into frames and cut by the live detector; 0 = off")
    ap.add_argument("--live-p", type=float, default=live_views.LiveViews.p,
                    help="share of views cut from those frames rather than the photo")
    ap.add_argument("--crop-filter", choices=FILTERS, default=CROP.filter,
                    help="how a big face is shrunk to the crop (edge/perceive/crop.py); the manifest passes it to the edge")


def _head_weights(specs: list[str]) -> dict[str, float]:
    try:
        weights = {k: float(v) for k, v in (hw.split("=", 1) for hw in specs)}
    except ValueError:
        raise ValueError("--head-weight wants HEAD=NUMBER, e.g. glasses_shape=2") from None
    if set(weights) - set(CLASSES):
        raise ValueError(f"--head-weight: unknown head(s) {sorted(set(weights) - set(CLASSES))}; heads: {list(CLASSES)}")
    return weights


def build(args: argparse.Namespace, device: str) -> tuple[torch.nn.Module, AttributesTask, dict[str, Any]]:
    """The net, the task and what the run's summary records (convert and the edge read size and crop)."""
    if args.size % 16 or args.size < 32:
        raise ValueError("--size must be a multiple of 16, at least 32 (four 2x2 pools)")
    if args.wild_repeat < 1:
        raise ValueError("--wild-repeat wants K >= 1")
    if args.live_views < 0 or not 0 <= args.live_p <= 1:
        raise ValueError("--live-views wants K >= 0, --live-p a share from 0 to 1")
    rule = replace(CROP, filter=args.crop_filter)
    lens = lenses.LensConfig(p=args.lens_p, kinds=lenses.parse_kinds(args.lenses))
    pairs = paired_views.PairConfig(weight=args.pairs) if args.pairs else None
    data = data_for(args.size, rule, args.data, args.cache, args.wild)
    if args.limit:
        data.x["train"], data.wild_train = data.x["train"][:args.limit], 0
        data.y["train"] = {h: v[:args.limit] for h, v in data.y["train"].items()}
        data.keypoints["train"] = data.keypoints["train"][:args.limit]
    log.info("crops: %s; no face found (left out): %s", {s: len(v) for s, v in data.x.items()}, data.dropped)
    teacher = AttributeTeacher.from_runs(args.teacher, data.x["train"], args.teacher_weight) if args.teacher else None
    live = None
    if args.live_views:
        live = live_views.load(args.data, crop_cache(args.size, rule), args.size, rule, args.live_views, args.live_p)
        if args.limit:  # a smoke run: the first faces' cuts
            live = live_views.LiveViews(live.crops[:args.limit], live.found[:args.limit],
                                        live.keypoints[:args.limit], live.p)
    task = AttributesTask(data, _head_weights(args.head_weight), teacher, lens if lens.kinds else None,
                          views.ViewConfig() if args.camera_views else None, pairs, live, args.wild_repeat)
    net = AttributeNet(size=args.size)
    if args.init:
        net.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=True))
    info = {
        "data": str(args.data), "wild": str(args.wild) if args.wild else None, "data_fingerprint": data.fingerprint,
        "no_detection": data.dropped, "detector_attempts": data.attempts, "crop": rule.to_manifest(),
        "size": args.size, "train_faces": task.train_size, "wild_train_faces": data.wild_train,
        "lenses": {"kinds": list(lens.kinds), "p": lens.p} if lens.kinds else None,
        "pairs": asdict(pairs) if pairs else None,
        "live_views": {"k": args.live_views, "p": args.live_p, "sizes": list(live_views.SIZES)} if live else None,
    }
    if teacher is not None:
        info["teacher"] = teacher.made_by
    return net, task, info
