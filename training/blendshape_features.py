"""The 52 blendshape scores of every FER+ face, read the way the mirror reads a live face.

    python -m training blendshape-features [--splits train val test] [--limit N] [--out runs/blendshape_features.npz]

The blendshape model never saw FER+; to learn what its scores say about an expression we need them on
faces with expression labels. Each raw 48x48 face is upscaled (120-200 px, like training/edge_gap.py)
and pasted onto a room-like backdrop; then the edge's own BlazeFace -> 478-point mesh -> blendshape
model, so the scores carry the same crop and the same upscaling blur the mirror would give such a face.
The frame of face i is a pure function of (seed, split, i) (`frame_for`), so the fusion tool rebuilds
the identical frame to run whichever expression model ships on the same detection, without caching
pixels. Cached per split: the detection (box, keypoints, score), the mesh's face-presence score (it
"works" at >= edge.perceive.landmarks.MIN_PRESENCE, the edge's own threshold) and the 52 scores.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.perceive.blendshapes import NAMES, Blendshapes
from edge.perceive.detect import BlazeFaceDetector
from edge.perceive.landmarks import MIN_PRESENCE, FaceMesh
from edge.state import Face
from training import ferplus
from training.edge_gap import background

log = logging.getLogger(__name__)

DEFAULT_OUT = Path("runs/blendshape_features.npz")
FRAME = 320  # px square: room for a 200 px face at any position; the detector letterboxes it to 128
BACKDROPS = 24  # drawn once per run: a backdrop takes 30 ms, the face through the mesh 20 ms


@dataclass
class Features:
    """One split's cached reading, row i = the split's face i (every face, kept by the protocol or not)."""

    detected: np.ndarray  # (N,) bool: BlazeFace found the pasted face
    box: np.ndarray  # (N, 4) x, y, w, h in frame pixels (0 where not detected)
    keypoints: np.ndarray  # (N, 6, 2)
    det_score: np.ndarray  # (N,)
    presence: np.ndarray  # (N,) the mesh's face-presence score, 0 where not detected
    shapes: np.ndarray  # (N, 52) float32, 0 where the mesh did not work

    @property
    def works(self) -> np.ndarray:
        """Where the edge would have blendshapes for this face."""
        return self.detected & (self.presence >= MIN_PRESENCE)

    def face(self, i: int) -> Face | None:
        return Face(self.box[i].astype(np.float32), float(self.det_score[i]),
                    self.keypoints[i].astype(np.float32)) if self.detected[i] else None


class Frames:
    """Deterministic frames: face i of a split, at its size and place, on one of a few backdrops."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.seed = seed
        self.backdrops = [background(rng, FRAME, FRAME) for _ in range(BACKDROPS)]

    def frame_for(self, raw48: np.ndarray, split: str, i: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, ferplus.SPLITS.index(split), i])
        size = int(rng.integers(120, 201))
        y, x = (int(v) for v in rng.integers(0, FRAME - size, 2))
        frame = self.backdrops[int(rng.integers(BACKDROPS))].copy()
        frame[y:y + size, x:x + size] = cv2.resize(raw48, (size, size), interpolation=cv2.INTER_CUBIC)[..., None]
        return frame


class Reader:
    """The edge's detector, 478-point mesh and blendshape model at one thread each."""

    def __init__(self) -> None:
        self.detector = BlazeFaceDetector("short", 1)
        self.mesh = FaceMesh(1, min_presence=0.0, points="478")  # keep every score, judge it afterwards
        self.blendshapes = Blendshapes(1)

    def read(self, frame_bgr: np.ndarray) -> tuple[Face | None, float, np.ndarray | None]:
        found = self.detector.detect(frame_bgr)
        if not found:
            return None, 0.0, None
        lm = self.mesh(frame_bgr, found[0])
        shapes = self.blendshapes.scores(lm.points) if lm is not None and lm.score >= MIN_PRESENCE else None
        return found[0], (lm.score if lm is not None else 0.0), shapes


def extract(raw: np.ndarray, split: str, frames: Frames, reader: Reader) -> Features:
    n = len(raw)
    f = Features(np.zeros(n, bool), np.zeros((n, 4), np.float32), np.zeros((n, 6, 2), np.float32),
                 np.zeros(n, np.float32), np.zeros(n, np.float32), np.zeros((n, len(NAMES)), np.float32))
    t0 = time.monotonic()
    for i, img in enumerate(raw):
        face, presence, shapes = reader.read(frames.frame_for(img, split, i))
        if face is not None:
            f.detected[i], f.box[i], f.keypoints[i], f.det_score[i] = True, face.box, face.keypoints, face.score
            f.presence[i] = presence
        if shapes is not None:
            f.shapes[i] = shapes
        if (i + 1) % 2000 == 0:
            el = time.monotonic() - t0
            log.info("%s: %d/%d faces, %.1f ms each, ETA %.0f s", split, i + 1, n, 1000 * el / (i + 1),
                     el / (i + 1) * (n - i - 1))
    return f


def save(path: Path, features: dict[str, Features], meta: dict) -> None:
    arrays = {f"{s}_{k}": v for s, f in features.items() for k, v in vars(f).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, meta=json.dumps(meta), **arrays)


def load(path: Path, split: str) -> tuple[Features, dict]:
    """One split's features and the run's meta (seed, data fingerprint, limit)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no blendshape features (run python -m training blendshape-features)")
    z = np.load(path)
    if f"{split}_shapes" not in z:
        raise ValueError(f"{path}: no {split} split (extract it with --splits {split})")
    return Features(*(z[f"{split}_{k}"] for k in Features.__dataclass_fields__)), json.loads(str(z["meta"]))


def summary(f: Features, majority: np.ndarray) -> dict:
    kept = majority >= 0
    return {"faces": len(f.detected), "kept_by_protocol": int(kept.sum()),
            "detected": round(float(f.detected[kept].mean()), 4), "mesh_works": round(float(f.works[kept].mean()), 4),
            "presence_median": round(float(np.median(f.presence[kept & f.detected])), 4) if f.detected.any() else None}


def main(argv: list[str] | None = None) -> int:
    import cv2 as _cv2

    _cv2.setNumThreads(1)
    ap = argparse.ArgumentParser(prog="python -m training blendshape-features", description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ferplus.DEFAULT_NPZ, help="ferplus.npz or fer2013new.csv")
    ap.add_argument("--pixels-csv", type=Path, help="fer2013.csv for fer2013new.csv's pixels")
    ap.add_argument("--splits", nargs="+", choices=ferplus.SPLITS, default=list(ferplus.SPLITS))
    ap.add_argument("--limit", type=int, default=0, help="only the first N faces of each split")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    raw = ferplus.load_raw(args.data, args.pixels_csv)
    frames, reader = Frames(args.seed), Reader()
    features, report = {}, {}
    for s in args.splits:
        x = raw[s].x[: args.limit or None]
        features[s] = extract(x, s, frames, reader)
        report[s] = summary(features[s], raw[s].majority[: len(x)])
        log.info("%s: %s", s, report[s])
        meta = {"seed": args.seed, "limit": args.limit, "data": str(args.data), "fingerprint": raw.fingerprint,
                "frame": FRAME, "backdrops": BACKDROPS, "summary": report}
        save(args.out, features, meta)  # after each split: val and test are usable while train runs
    print(json.dumps(meta, indent=1))
    return 0
