"""FER2013 in the three shapes people have it: our npz, Kaggle's fer2013.csv, or class folders.

Every loader returns the same `Splits` with preprocess T already applied, because the npz's train
split only exists as T(raw) and the edge applies T to every crop: the model must see T everywhere.
"""
from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.preprocess import equalize_clip

DEFAULT_NPZ = Path(__file__).resolve().parents[1].parent / "shared/data/fer2013/fer2013.npz"
CLASSES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
PREPROCESS_NAME = "equalizeHist(clip(1.2*x))"
# Kaggle's CSV and the folder export both name the official splits this way.
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
FOLDER_PREFIX_TO_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}


@dataclass
class Splits:
    x: dict[str, np.ndarray]  # split -> (N, 48, 48) uint8, T applied
    y: dict[str, np.ndarray]  # split -> (N,) int64 class index in CLASSES order
    source: str
    fingerprint: str  # sha256 over the pixels and labels actually used


def _fingerprint(x: dict[str, np.ndarray], y: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for split in sorted(x):
        h.update(split.encode())
        h.update(np.ascontiguousarray(x[split]).tobytes())
        h.update(np.ascontiguousarray(y[split]).astype(np.int64).tobytes())
    return h.hexdigest()


def _apply_t(raw: np.ndarray) -> np.ndarray:
    return np.stack([equalize_clip(img) for img in raw]) if len(raw) else raw


def load_npz(path: Path) -> Splits:
    z = np.load(path)
    classes = [str(c) for c in z["classes"]]
    if classes != CLASSES:
        raise ValueError(f"{path}: classes {classes} differ from {CLASSES}")
    if str(z["preprocess"]) != PREPROCESS_NAME:
        raise ValueError(f"{path}: preprocess {z['preprocess']} is not {PREPROCESS_NAME}")
    x = {s: z[f"{s}_x"] for s in ("train", "val", "test")}
    y = {s: z[f"{s}_y"].astype(np.int64) for s in ("train", "val", "test")}
    return Splits(x, y, str(path), _fingerprint(x, y))


def load_csv(path: Path) -> Splits:
    """Kaggle's fer2013.csv: emotion,pixels,Usage with raw pixels; T is applied here."""
    xs: dict[str, list[np.ndarray]] = {s: [] for s in USAGE_TO_SPLIT.values()}
    ys: dict[str, list[int]] = {s: [] for s in USAGE_TO_SPLIT.values()}
    with open(path, newline="") as f:
        for line_no, row in enumerate(csv.DictReader(f), start=2):
            try:
                split = USAGE_TO_SPLIT[row["Usage"].strip()]
                pixels = np.array(row["pixels"].split(), dtype=np.uint8)
                label = int(row["emotion"])
            except (KeyError, ValueError) as e:
                raise ValueError(f"{path}:{line_no}: not a fer2013.csv row ({e})") from None
            if pixels.size != 48 * 48 or not 0 <= label < len(CLASSES):
                raise ValueError(f"{path}:{line_no}: expected 2304 pixels and emotion 0-6")
            xs[split].append(pixels.reshape(48, 48))
            ys[split].append(label)
    return _finish(xs, ys, str(path))


def load_folders(root: Path) -> Splits:
    """The JPEG export: train/<class>/*.jpg and test/<class>/{PublicTest,PrivateTest}_*.jpg.

    A test folder without the PublicTest/PrivateTest prefixes becomes test, and val is then carved
    deterministically (every 10th image) from train, so model selection never sees test.
    """
    xs: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    ys: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for folder, default_split in (("train", "train"), ("test", "test"), ("val", "val")):
        for label, name in enumerate(CLASSES):
            for img_path in sorted((root / folder / name).glob("*")):
                if img_path.suffix.lower() not in {".jpg", ".jpeg", ".png"}:
                    continue
                img = cv2.imread(str(img_path), cv2.IMREAD_GRAYSCALE)
                if img is None:
                    raise ValueError(f"{img_path}: not a readable image")
                if img.shape != (48, 48):
                    img = cv2.resize(img, (48, 48), interpolation=cv2.INTER_AREA)
                prefix = img_path.name.split("_")[0]
                split = FOLDER_PREFIX_TO_SPLIT.get(prefix, default_split)
                xs[split].append(img)
                ys[split].append(label)
    if not xs["train"]:
        raise ValueError(f"{root}: no images under train/<class>/ (classes: {', '.join(CLASSES)})")
    if not xs["val"]:
        keep = [i % 10 != 0 for i in range(len(xs["train"]))]
        xs["val"] = [a for a, k in zip(xs["train"], keep) if not k]
        ys["val"] = [a for a, k in zip(ys["train"], keep) if not k]
        xs["train"] = [a for a, k in zip(xs["train"], keep) if k]
        ys["train"] = [a for a, k in zip(ys["train"], keep) if k]
    return _finish(xs, ys, str(root))


def _finish(xs: dict[str, list[np.ndarray]], ys: dict[str, list[int]], source: str) -> Splits:
    x = {s: _apply_t(np.array(v, dtype=np.uint8).reshape(-1, 48, 48)) for s, v in xs.items()}
    y = {s: np.array(v, dtype=np.int64) for s, v in ys.items()}
    return Splits(x, y, source, _fingerprint(x, y))


def load(path: str | Path) -> Splits:
    path = Path(path)
    if path.is_dir():
        return load_folders(path)
    if path.suffix == ".npz":
        return load_npz(path)
    if path.suffix == ".csv":
        return load_csv(path)
    raise ValueError(f"{path}: expected fer2013.npz, fer2013.csv or a folder with train/<class>/")
