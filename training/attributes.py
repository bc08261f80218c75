"""Train the attribute model (mask, eyewear, glasses shape) on the original project's face crops.

    python -m training attributes --out runs/attributes

The photos are crops made by another detector, so each one is first cropped the way the Pi does
it: padded when needed, our BlazeFace, the edge crop rule (`CROP`). Images with no detection are
left out and counted. Unknown labels are masked out of the loss; `glasses_unknown` supervises only
"some eyewear vs none". Selection is on val; test is read only for the final report.
`--teacher RUN ...` adds earlier runs' averaged probabilities as soft targets (born-again distillation).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from edge.model_files import sha256_file
from edge.perceive.crop import FILTERS, CropRule, crop_face, crop_matrix
from edge.perceive.detect import RETRY_MIN_SCORE, STILL_PADDINGS, BlazeFaceDetector, detect_still
from training import lenses, live_views, paired_views, steadiness, views
from training.augment import AugmentConfig, augment
from training.metrics import summarize
from training.nets import AttributeNet
from training.trainer import TrainConfig, follow_teacher, lineage_summary, predict, train

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/face_attributes"
SIZE = 64  # the shipped input; --size trains another (the crops are re-made for it)
CROP = CropRule(scale=1.3, shift_y=0.05)  # the whole mask down to the chin, the glasses and their frames
PIXEL_SCALE, PIXEL_OFFSET = 1 / 127.5, -1.0
CLASSES = {"mask": ["mask", "no_mask"], "eyewear": ["none", "glasses", "sunglasses"],
           "glasses_shape": ["round", "rectangular"]}
UNKNOWN, SOME_EYEWEAR = -1, -2
EYEWEAR_CODES = {"none": 0, "clear_glasses": 1, "sunglasses": 2, "glasses_unknown": SOME_EYEWEAR, "": UNKNOWN}
SHAPE_CODES = {"round": 0, "rectangle": 1, "": UNKNOWN}
SPLITS = ("train", "val", "test")


@dataclass
class AttributeData:
    x: dict[str, np.ndarray]  # split -> (N, 64, 64, 3) uint8 RGB crops
    y: dict[str, dict[str, np.ndarray]]  # split -> head -> codes
    group: dict[str, np.ndarray]  # split -> skin_group ('' when unlabelled)
    dropped: dict[str, int]  # split -> images with no detection
    attempts: dict[str, int]  # how the detector found the faces
    fingerprint: str
    keypoints: dict[str, np.ndarray] = field(default_factory=dict)  # split -> (N, 6, 2) BlazeFace points in crop px


def _labels(rows: list[dict]) -> dict[str, np.ndarray]:
    return {
        "mask": np.array([0 if r["mask"] == "1" else 1 for r in rows]),
        "eyewear": np.array([EYEWEAR_CODES[r["eyewear"]] for r in rows]),
        "glasses_shape": np.array([SHAPE_CODES[r["glasses_shape"]] for r in rows]),
    }


def prepare(data_dir: Path, cache: Path, size: int = SIZE, rule: CropRule = CROP) -> AttributeData:
    """Edge-style crops of every labelled photo, cached (the detector pass takes a few minutes)."""
    labels_csv = data_dir / "labels.csv"
    recipe = json.dumps([rule.to_manifest(), STILL_PADDINGS, RETRY_MIN_SCORE])  # a new detector recipe re-crops
    digest = hashlib.sha256(labels_csv.read_bytes() + recipe.encode()).hexdigest()
    rows = list(csv.DictReader(open(labels_csv)))
    z = np.load(cache) if cache.exists() else None
    if z is not None and str(z["digest"]) == digest and z["crops"].shape[1] == size and "keypoints" in z:
        crops, found, attempts, points = z["crops"], z["found"], json.loads(str(z["attempts"])), z["keypoints"]
    else:
        det, far = BlazeFaceDetector("short", 1), BlazeFaceDetector("full", 1)
        crops = np.zeros((len(rows), size, size, 3), np.uint8)
        found = np.zeros(len(rows), bool)
        points = np.zeros((len(rows), 6, 2), np.float32)  # where the lenses go (training/lenses.py)
        attempts: dict[str, int] = {}
        for i, r in enumerate(rows):
            img = cv2.imread(str(data_dir / r["file"]))
            faces, how = detect_still(det, img, far)
            attempts[how] = attempts.get(how, 0) + 1
            if faces:
                crops[i] = crop_face(img, faces[0], rule, (size, size), "rgb")
                m = crop_matrix(faces[0], rule, (size, size))
                points[i] = faces[0].keypoints @ m[:, :2].T + m[:, 2]
                found[i] = True
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, crops=crops, found=found, attempts=json.dumps(attempts), digest=digest, keypoints=points)
    split = np.array([r["split"] for r in rows])
    group = np.array([r["skin_group"] for r in rows])
    y_all = _labels(rows)
    x, y, groups, dropped, kps = {}, {}, {}, {}, {}
    for s in SPLITS:
        keep = (split == s) & found
        dropped[s] = int(((split == s) & ~found).sum())
        x[s] = crops[keep]
        kps[s] = points[keep]
        y[s] = {h: v[keep] for h, v in y_all.items()}
        groups[s] = group[keep]
    fp = hashlib.sha256(crops[found].tobytes() + labels_csv.read_bytes()).hexdigest()
    return AttributeData(x, y, groups, dropped, attempts, fp, kps)


def crop_cache(size: int, rule: CropRule = CROP) -> Path:
    return Path(f"runs/attribute_crops_{size}" + ("" if rule.filter == CROP.filter else f"_{rule.filter}") + ".npz")


def _summary(run: Path) -> dict:
    path = run / "train_summary.json"
    return json.loads(path.read_text()) if path.exists() else {}


def run_size(run: Path) -> int:
    """The input side a run was trained at (runs from before --size are 64)."""
    return int(_summary(run).get("size", SIZE))


def run_crop(run: Path) -> CropRule:
    """The crop rule a run was trained on (runs from before --crop-filter: CROP)."""
    return CropRule.from_manifest(_summary(run).get("crop") or CROP.to_manifest())


def data_for(size: int, rule: CropRule, data_dir: Path = DEFAULT_DATA, cache: Path | None = None) -> AttributeData:
    """The crops a model of this size and crop rule reads: what convert, report and the checks score it on."""
    return prepare(data_dir, cache or crop_cache(size, rule), size, rule)


def to_input(x_uint8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x_uint8).float().div_(127.5).sub_(1.0)


def _class_weights(codes: np.ndarray, n: int) -> torch.Tensor:
    counts = np.bincount(codes[codes >= 0], minlength=n).astype(float)
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
                 live: live_views.LiveViews | None = None):
        self.data = data
        self.teacher = teacher
        self.lens, self.view = lens, view  # synthetic eyewear and camera views (issue 20); None = off
        self.pairs = pairs  # two views per crop, read alike (issue 23); None = off
        self.live = live  # more cuts of each train face, from frames as the live mirror sees them (issue 23)
        if live is not None and len(live.found) != len(data.x["train"]):
            raise ValueError(f"frame cuts for {len(live.found)} train faces, the crops have {len(data.x['train'])}")
        self.keypoints = torch.from_numpy(data.keypoints["train"]) if lens or live else None
        # glasses_shape learns from ~8% of the photos: its loss is diluted by the others' unless weighted
        self.head_weights = {h: 1.0 for h in CLASSES} | (head_weights or {})
        self.x = {s: to_input(v) for s, v in data.x.items()}
        self.y = {s: {h: torch.from_numpy(v) for h, v in d.items()} for s, d in data.y.items()}
        self.weights = {h: _class_weights(data.y["train"][h], len(c)) for h, c in CLASSES.items()}
        self.aug = AugmentConfig(max_rotate_deg=12, scale=(0.88, 1.12), max_shift=0.06, brightness=0.3,
                                 contrast=(0.65, 1.35), erase_p=0.3, erase_area=(0.02, 0.12),
                                 colour_cast=0.15, blur_p=0.25)

    def train_batches(self, batch_size: int, generator: torch.Generator):
        x, y = self.x["train"], self.y["train"]
        order = torch.randperm(len(x), generator=generator)
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
        if self.pairs is not None:
            total = total + paired_views.divergence(outputs, self.pairs.weight)
        return total

    def evaluate(self, model: torch.nn.Module, split: str, flip: bool = False) -> dict[str, Any]:
        """With paired views the epoch is chosen for steadiness too: the mean of the heads' accuracy
        and their steadiness (training/steadiness.py), since accuracy alone keeps the first epoch."""
        probs = predict(model, self.x[split], flip=flip)
        out = evaluate_probs(probs, self.data.y[split], self.data.group[split])
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=Path("runs/attributes"))
    ap.add_argument("--cache", type=Path, help="crop cache (default runs/attribute_crops_SIZE.npz)")
    ap.add_argument("--size", type=int, default=SIZE, help="input side in pixels, a multiple of 16")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--max-minutes", type=float, default=0.0)
    ap.add_argument("--prepare-only", action="store_true", help="only make the edge-style crops")
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--head-weight", action="append", default=[], metavar="HEAD=W",
                    help="scale one head's loss, e.g. glasses_shape=2 (repeatable)")
    ap.add_argument("--seed", type=int, default=TrainConfig.seed)
    ap.add_argument("--init", type=Path, help="start from these weights (a run's best.pt, same --size): "
                    "a second cycle of the schedule")
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (lower for a second cycle)")
    ap.add_argument("--teacher", type=Path, nargs="+", metavar="RUN",
                    help="earlier runs (their best.pt, same --size) whose averaged plain+mirror probabilities "
                         "the net also follows")
    ap.add_argument("--teacher-weight", type=float, default=0.7, help="share of the loss that follows the teacher")
    ap.add_argument("--lenses", default="none", metavar="KINDS",
                    help=f"synthetic eyewear painted on train crops: none, all or a comma list of {','.join(lenses.KINDS)}")
    ap.add_argument("--lens-p", type=float, default=lenses.LensConfig.p, help="share of eligible crops painted")
    ap.add_argument("--views", action="store_true", help="camera angle (keystone) and distance (low resolution)")
    ap.add_argument("--pairs", type=float, default=0.0, metavar="WEIGHT",
                    help="two views of each crop (light, size, flip) and this weight on reading them alike; 0 = off")
    ap.add_argument("--live-views", type=int, default=0, metavar="K",
                    help="K more cuts of each train face, pasted into frames and cut by the live detector; 0 = off")
    ap.add_argument("--live-p", type=float, default=live_views.LiveViews.p,
                    help="share of views cut from those frames rather than the photo")
    ap.add_argument("--crop-filter", choices=FILTERS, default=CROP.filter,
                    help="how a big face is shrunk to the crop (edge/perceive/crop.py); the manifest passes it to the edge")
    ap.add_argument("--threads", type=int, default=TrainConfig.threads, help="CPU threads for torch")
    args = ap.parse_args(argv)
    rule = replace(CROP, filter=args.crop_filter)
    try:
        lens = lenses.LensConfig(p=args.lens_p, kinds=lenses.parse_kinds(args.lenses))
    except ValueError as e:
        ap.error(f"--lenses: {e}")
    try:
        pairs = paired_views.PairConfig(weight=args.pairs) if args.pairs else None
    except ValueError as e:
        ap.error(f"--pairs: {e}")
    try:
        head_weights = {k: float(v) for k, v in (hw.split("=", 1) for hw in args.head_weight)}
    except ValueError:
        ap.error("--head-weight wants HEAD=NUMBER, e.g. glasses_shape=2")
    if set(head_weights) - set(CLASSES):
        ap.error(f"--head-weight: unknown head(s) {sorted(set(head_weights) - set(CLASSES))}; heads: {list(CLASSES)}")
    if args.live_views < 0 or not 0 <= args.live_p <= 1:
        ap.error("--live-views wants K >= 0, --live-p a share from 0 to 1")
    if args.size % 16 or args.size < 32:
        ap.error("--size must be a multiple of 16, at least 32 (four 2x2 pools)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    t0 = time.monotonic()
    data = data_for(args.size, rule, args.data, args.cache)
    log = logging.getLogger("training")
    log.info("crops ready in %.0fs: %s; no face found (left out): %s", time.monotonic() - t0,
             {s: len(v) for s, v in data.x.items()}, data.dropped)
    if args.prepare_only:
        return 0
    teacher = None
    if args.teacher:
        try:
            teacher = AttributeTeacher.from_runs(args.teacher, data.x["train"], args.teacher_weight)
        except (OSError, RuntimeError, ValueError) as e:
            print(f"error: teacher: {e}", file=sys.stderr)
            return 2
        log.info("teacher: %d runs, train accuracy %s", len(args.teacher), {
            h: round(float((p.argmax(1).numpy() == data.y["train"][h])[data.y["train"][h] >= 0].mean()), 4)
            for h, p in teacher.probs.items()})
    live = None
    if args.live_views:
        t0 = time.monotonic()
        live = live_views.load(args.data, crop_cache(args.size, rule), args.size, rule, args.live_views,
                               args.live_p)
        log.info("frame cuts ready in %.0fs: %.1f%% found", time.monotonic() - t0, 100 * live.found.mean())
    task = AttributesTask(data, head_weights, teacher, lens if lens.kinds else None,
                          views.ViewConfig() if args.views else None, pairs, live)
    cfg = TrainConfig(epochs=args.epochs, lr=args.lr, batch_size=64, patience=25, max_minutes=args.max_minutes,
                      seed=args.seed, threads=args.threads)
    steps = len(data.x["train"]) // cfg.batch_size
    net = AttributeNet(size=args.size)
    try:
        if args.init:
            net.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=True))
    except (OSError, RuntimeError) as e:
        print(f"error: --init {args.init}: {e}".splitlines()[0], file=sys.stderr)
        return 2
    model, history = train(net, task, cfg, args.out, steps, resume=not args.fresh)
    summary = {
        "data": str(args.data), "data_fingerprint": data.fingerprint,
        "command": "python -m training attributes " + " ".join(argv if argv is not None else sys.argv[1:]),
        "wall_seconds": round(history.wall_seconds, 1), "best_epoch": history.best_epoch,
        "epochs_run": len(history.epochs), "parameters": sum(p.numel() for p in model.parameters()),
        "no_detection": data.dropped, "detector_attempts": data.attempts, "crop": rule.to_manifest(),
        "size": args.size, **lineage_summary(args.init, history.wall_seconds),
        "lenses": {"kinds": list(lens.kinds), "p": lens.p} if lens.kinds else None, "views": args.views,
        "pairs": asdict(pairs) if pairs else None,
        "live_views": {"k": args.live_views, "p": args.live_p, "sizes": list(live_views.SIZES)} if live else None,
    }
    if teacher is not None:
        summary["teacher"] = teacher.made_by
    (args.out / "train_summary.json").write_text(json.dumps(summary, indent=1))
    log.info("best val %.4f at epoch %d", history.best_score, history.best_epoch + 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
