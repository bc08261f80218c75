"""Train/serve gap of the expression model: FER+ faces through the whole edge path.

    python -m training edge-gap --split val --sweep      # choose the crop rule (on val only)
    python -m training edge-gap --split test --views 4   # report the committed rule on test

Raw FER+ faces (the lossless pixels; the faces the FER+ protocol keeps, with their majority label) (48x48, no preprocess) are upscaled to 120-200 px and pasted at random positions onto
640x480 backgrounds; then BlazeFace -> crop rule -> T -> int8 model, exactly as on the Pi. The
accuracy is compared with the model fed the dataset's own crops. A face the detector misses counts
as wrong (the mirror would show nothing), and the miss rate is reported on its own.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from edge.perceive.classify import Classifier, read_manifest
from edge.perceive.crop import CropRule
from edge.perceive.detect import BlazeFaceDetector
from edge.state import Face
from training import ferplus

MODELS = Path(__file__).resolve().parents[1] / "models_tflite"


def background(rng: np.random.Generator, h: int = 480, w: int = 640) -> np.ndarray:
    """A smooth room-like backdrop: a random gradient with soft blobs, in colour."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    a, b, c = rng.uniform(-0.15, 0.15, 3)
    base = rng.uniform(40, 200, 3)
    img = base[None, None, :] + (a * xs + b * ys)[..., None] * rng.uniform(0.5, 1.5, 3)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(40, 160)
        img += rng.uniform(-50, 50, 3) * np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * r * r))[..., None]
    return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


def paste(raw48: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    size = int(rng.integers(120, 201))
    face = cv2.resize(raw48, (size, size), interpolation=cv2.INTER_CUBIC)
    frame = background(rng)
    y, x = int(rng.integers(0, 480 - size)), int(rng.integers(0, 640 - size))
    frame[y:y + size, x:x + size] = face[..., None]
    return frame


def detect_all(raw: np.ndarray, seed: int) -> tuple[list[np.ndarray], list[Face | None]]:
    det = BlazeFaceDetector("short", 1)
    rng = np.random.default_rng(seed)
    frames, faces = [], []
    for img in raw:
        frame = paste(img, rng)
        found = det.detect(frame)
        frames.append(frame)
        faces.append(found[0] if found else None)
    return frames, faces


def hits_with_rule(clf: Classifier, frames, faces, y: np.ndarray, rule: CropRule) -> np.ndarray:
    """Per image: classified right through the edge path (False where the detector missed)."""
    clf.crop_rule = rule
    hits = np.zeros(len(y), bool)
    for i, (frame, face, label) in enumerate(zip(frames, faces, y)):
        if face is not None:
            hits[i] = np.argmax(clf.probabilities(clf.crop(frame, face))["expression"]) == label
    return hits


def direct_hits(clf: Classifier, x_raw: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The dataset's own 48x48 crops (raw; the classifier applies T): the model without the edge path."""
    return np.array([np.argmax(clf.probabilities(img)["expression"]) == label for img, label in zip(x_raw, y)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ferplus.DEFAULT_NPZ, help="ferplus.npz or fer2013new.csv")
    ap.add_argument("--pixels-csv", type=Path, help="fer2013.csv for fer2013new.csv's pixels")
    ap.add_argument("--split", choices=("val", "test"), default="val")
    ap.add_argument("--sweep", action="store_true", help="try crop rules and print the best (use on val)")
    ap.add_argument("--views", type=int, choices=(1, 2, 4), default=1, help="test-time views (2: + mirror, 4: + zoom)")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", type=Path, default=MODELS, help="folder with manifest.json")
    args = ap.parse_args(argv)
    part = ferplus.load_raw(args.data, args.pixels_csv)[args.split]
    kept = part.majority >= 0
    raw, y = part.x[kept], part.majority[kept]
    if args.limit:
        raw, y = raw[: args.limit], y[: args.limit]
    entry = read_manifest(args.models)["expression"]
    clf = Classifier("expression", entry, args.models, 1, views=args.views)
    frames, faces = detect_all(raw, args.seed)
    found = np.array([f is not None for f in faces])
    direct = direct_hits(clf, raw, y)
    result = {"split": args.split, "images": len(y), "views": args.views,
              "detector_missed": int((~found).sum()), "direct_accuracy": round(float(direct.mean()), 4),
              "direct_accuracy_detected": round(float(direct[found].mean()), 4)}
    rules = [clf.crop_rule]
    if args.sweep:
        rules = [CropRule(s, dy) for s in (0.9, 1.0, 1.1, 1.2, 1.3) for dy in (-0.1, -0.05, 0.0, 0.05)]
    hits = {json.dumps(r.to_manifest()): hits_with_rule(clf, frames, faces, y, r) for r in rules}
    best = max(hits, key=lambda k: hits[k].sum())
    edge = hits[best]
    result.update({
        "crop": json.loads(best),
        "edge_accuracy": round(float(edge.mean()), 4),  # misses count as wrong
        "edge_accuracy_detected": round(float(edge[found].mean()), 4),
        "gap_points": round(100 * float(direct.mean() - edge.mean()), 2),
        # the crop rule's own gap: the same detected faces, dataset crop vs edge crop
        "gap_points_detected": round(100 * float(direct[found].mean() - edge[found].mean()), 2),
    })
    if args.sweep:
        result["sweep"] = {k: round(float(v[found].mean()), 4) for k, v in sorted(hits.items(), key=lambda kv: -kv[1].sum())}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
