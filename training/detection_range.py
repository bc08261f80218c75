"""How far away the live detector still finds a face: photos pasted into 640x480 frames at face widths.

    python -m training detection-range [--widths 40 50 60 80 100] [--detector short full]

At a booth people stand one to three metres away; with a Pi camera's ~64 degree view at 640 px a face
is ~55 px wide at 1.5 m and ~40 px at 2 m. Each photo (face-attribute val photos and the demo portraits,
faces found on the original photo) is scaled so its face is W px wide and pasted at random places on a
room-like backdrop; the detector runs with the live settings (no still-photo retries). A hit is a
detection overlapping the pasted face (IoU >= 0.3). Choose settings on val photos; --split test reports.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from edge.perceive.detect import BlazeFaceDetector, TiledDetector, detect_still
from edge.state import box_iou
from training.edge_gap import background

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared/data/face_attributes"
DEMO = REPO / "assets/demo"
FRAME = (480, 640)


def source_faces(data: Path, split: str, limit: int, min_face: int = 90) -> list[tuple[np.ndarray, np.ndarray]]:
    """(photo, face box) pairs: the demo portraits first, then photos whose face is at least min_face
    px wide (a smaller one would be upscaled, and a far face is blurry enough already)."""
    det, far = BlazeFaceDetector("short", 1), BlazeFaceDetector("full", 1)
    paths = sorted(DEMO.glob("*.[jp][pn]g"))
    rows = [r for r in csv.DictReader(open(data / "labels.csv")) if r["split"] == split]
    paths += [data / r["file"] for r in rows]
    out = []
    for p in paths:
        img = cv2.imread(str(p))
        if img is None:
            continue
        faces, _ = detect_still(det, img, far)
        if faces and faces[0].box[2] >= min_face:
            out.append((img, faces[0].box.copy()))
        if len(out) >= limit:
            break
    return out


def paste(photo: np.ndarray, box: np.ndarray, width: int, rng: np.random.Generator,
          backdrop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The photo scaled so the face is `width` px, pasted so the whole face is inside the frame."""
    s = width / box[2]
    h, w = photo.shape[:2]
    scaled = cv2.resize(photo, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    fb = box * s
    fh, fw = FRAME
    fx = rng.uniform(0, fw - fb[2])  # face's top-left in the frame
    fy = rng.uniform(0, fh - fb[3])
    ox, oy = int(round(fx - fb[0])), int(round(fy - fb[1]))
    frame = backdrop.copy()
    x0, y0 = max(0, ox), max(0, oy)
    x1, y1 = min(fw, ox + scaled.shape[1]), min(fh, oy + scaled.shape[0])
    frame[y0:y1, x0:x1] = scaled[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    return frame, np.array([ox + fb[0], oy + fb[1], fb[2], fb[3]], np.float32)


def found(faces, truth: np.ndarray) -> bool:
    return any(box_iou(f.box, truth) >= 0.3 for f in faces)


def measure(detect, sources, widths: list[int], placements: int, seed: int) -> dict[int, float]:
    rng = np.random.default_rng(seed)
    backdrops = [background(rng) for _ in range(8)]
    rates = {}
    for width in widths:
        hits = []
        for i, (photo, box) in enumerate(sources):
            for k in range(placements):
                frame, truth = paste(photo, box, width, rng, backdrops[(i + k) % len(backdrops)])
                hits.append(found(detect(frame), truth))
        rates[width] = round(float(np.mean(hits)), 4)
    return rates


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--split", choices=("val", "test"), default="val")
    ap.add_argument("--photos", type=int, default=40)
    ap.add_argument("--placements", type=int, default=5)
    ap.add_argument("--widths", type=int, nargs="+", default=[40, 50, 60, 80, 100])
    ap.add_argument("--detector", nargs="+", default=["short", "full", "tiled"],
                    help="short, full (BlazeFace on the whole frame) or tiled (short range on the frame and "
                    "a 4x3 grid of tiles, all tiles: what a face that stays put gets within one round)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    sources = source_faces(args.data, args.split, args.photos)
    report = {"split": args.split, "photos": len(sources), "placements": args.placements, "rates": {}}
    for name in args.detector:
        if name == "tiled":
            tiled = TiledDetector(BlazeFaceDetector("short", 1))
            detect = lambda frame: tiled.detect(frame, every_tile=True)  # noqa: E731
        else:
            detect = BlazeFaceDetector(name, 1).detect
        report["rates"][name] = measure(detect, sources, args.widths, args.placements, args.seed)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
