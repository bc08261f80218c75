"""FER2013 faces as the edge sees them: pasted into frames, found by BlazeFace, cut by the crop rule.

    python -m training.edge_crops --split train --copies 2 --out runs/edge_crops/train.npz
    python -m training.edge_crops --split val --out runs/edge_crops/val.npz --seed 1
    python -m training.edge_crops --check          # how faithful the train approximation is, on val

FER2013's crops are tight and hand-aligned; the mirror's come from BlazeFace boxes, a little shifted,
scaled, turned level and with some background at the margins. A model that only ever saw the dataset's
crops loses 3.5-4.3 points through the edge path (`training.edge_gap`); training on crops made the
edge's way as well closes that, the same way the attribute model's training crops are made.

The train split exists only as T(raw) (see ../shared/data/README.md). Pasting a T(raw) face and
applying equalizeHist alone to its crop stands in for T(crop of the raw face): equalization depends
only on the order of the pixel values, which T's monotonic map keeps within the face, and the
clip at 1.2x already happened inside T(raw). `--check` measures how close that is on val, where
both copies exist.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from edge.classify import Classifier, read_manifest
from edge.crop import CropRule, crop_face
from edge.detect import BlazeFaceDetector
from edge.preprocess import equalize_clip
from training.edge_gap import MODELS, background
from training.fer import DEFAULT_NPZ

POOL = 256  # backgrounds are slow to paint (~37 ms); a pool mirrored four ways gives 1024


def equalize(gray: np.ndarray) -> np.ndarray:
    return cv2.equalizeHist(np.ascontiguousarray(gray))


def paste_on(face48: np.ndarray, bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 48x48 grey face upscaled to 120-200 px at a random place on a copy of bg."""
    size = int(rng.integers(120, 201))
    face = cv2.resize(face48, (size, size), interpolation=cv2.INTER_CUBIC)
    frame = bg.copy()
    h, w = frame.shape[:2]
    y, x = int(rng.integers(0, h - size)), int(rng.integers(0, w - size))
    frame[y:y + size, x:x + size] = face[..., None]
    return frame


def make_crops(faces48: np.ndarray, rule: CropRule, seed: int, copies: int = 1,
               finish=equalize_clip) -> tuple[np.ndarray, np.ndarray]:
    """(N, 48, 48) faces -> (copies, N, 48, 48) preprocessed edge crops and a (copies, N) found mask.

    finish is the preprocess applied to each crop: T for raw faces (the edge's own path), equalize
    for faces that are already T(raw). A face BlazeFace misses keeps a zero crop and found False.
    """
    rng = np.random.default_rng(seed)
    pool = [background(rng) for _ in range(POOL)]
    det = BlazeFaceDetector("short", 1)
    crops = np.zeros((copies, *faces48.shape), np.uint8)
    found = np.zeros((copies, len(faces48)), bool)
    for c in range(copies):
        for i, face48 in enumerate(faces48):
            bg = pool[int(rng.integers(POOL))]
            bg = bg[:: rng.choice((1, -1)), :: rng.choice((1, -1))]
            frame = paste_on(face48, bg, rng)
            faces = det.detect(frame)
            if faces:
                crops[c, i] = finish(crop_face(frame, faces[0], rule, faces48.shape[1:], "gray"))
                found[c, i] = True
    return crops, found


def check(data: Path, models: Path, limit: int) -> dict:
    """On val: the edge path on raw faces vs the stand-in used for train (T(raw) pasted, equalized)."""
    z = np.load(data)
    raw, t_raw, y = z["val_x_raw"][:limit], z["val_x"][:limit], z["val_y"][:limit].astype(int)
    clf = Classifier("expression", read_manifest(models)["expression"], models, 1)
    real, found_real = make_crops(raw, clf.crop_rule, seed=5)
    proxy, found_proxy = make_crops(t_raw, clf.crop_rule, seed=5, finish=equalize)
    both = found_real[0] & found_proxy[0]

    def accuracy(crops: np.ndarray) -> float:
        hits = [np.argmax(clf.model.run(clf.tensor(c))[0].reshape(-1)) == t for c, t in zip(crops[both], y[both])]
        return round(float(np.mean(hits)), 4)

    diff = np.abs(real[0][both].astype(int) - proxy[0][both].astype(int))
    return {"images": int(len(y)), "found_real": int(found_real.sum()), "found_proxy": int(found_proxy.sum()),
            "found_both": int(both.sum()), "mean_abs_pixel_diff": round(float(diff.mean()), 2),
            "accuracy_real_path": accuracy(real[0]), "accuracy_proxy_path": accuracy(proxy[0])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_NPZ)
    ap.add_argument("--split", choices=("train", "val"), default="train")
    ap.add_argument("--copies", type=int, default=1, help="pastes per face, each at its own place and size")
    ap.add_argument("--seed", type=int, default=1, help="edge_gap reports with seed 0; keep these apart")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--models", type=Path, default=MODELS, help="folder with manifest.json (for the crop rule)")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--check", action="store_true", help="compare the train stand-in with the real path on val")
    args = ap.parse_args(argv)
    if args.check:
        print(json.dumps(check(args.data, args.models, args.limit or 1000), indent=1))
        return 0
    if args.out is None:
        ap.error("--out is required unless --check")
    z = np.load(args.data)
    faces = z["train_x"] if args.split == "train" else z["val_x_raw"]
    labels = z[f"{args.split}_y"]
    if args.limit:
        faces, labels = faces[: args.limit], labels[: args.limit]
    rule = CropRule.from_manifest(read_manifest(args.models)["expression"]["input"]["crop"])
    t0 = time.monotonic()
    crops, found = make_crops(faces, rule, args.seed, args.copies,
                              finish=equalize if args.split == "train" else equalize_clip)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # the labels travel with the crops: training checks them against its own data, row by row
    np.savez_compressed(args.out, crops=crops, found=found, labels=labels, rule=json.dumps(rule.to_manifest()),
                        split=args.split, seed=args.seed)
    print(json.dumps({"split": args.split, "faces": len(faces), "copies": args.copies,
                      "found": round(float(found.mean()), 4), "seconds": round(time.monotonic() - t0, 1),
                      "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
