"""The attribute model's data: every labelled photo cropped the way the Pi crops a face, cached.

Two sources: the original project's face-attribute photos (train/val/test, with skin groups) and
`eyewear_wild` (real crops of many kinds of sunglasses, clear glasses with frame shapes including
`other`, bare faces with heavy make-up; train/val). The photos are crops made by other detectors,
so each is first cut again by our BlazeFace and the edge's crop rule (`CROP`): a model learns the
crops the live mirror hands it. Photos with no detection are left out and counted.
"""
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from edge.perceive.crop import CropRule, crop_face, crop_matrix
from edge.perceive.detect import RETRY_MIN_SCORE, STILL_PADDINGS, BlazeFaceDetector, detect_still

SHARED = Path(__file__).resolve().parents[1].parent / "shared/data"
DEFAULT_DATA = SHARED / "face_attributes"
WILD_DATA = SHARED / "eyewear_wild"
SIZE = 64  # the shipped input; --size trains another (the crops are re-made for it)
CROP = CropRule(scale=1.3, shift_y=0.05)  # the whole mask down to the chin, the glasses and their frames
PIXEL_SCALE, PIXEL_OFFSET = 1 / 127.5, -1.0
CLASSES = {"mask": ["mask", "no_mask"], "eyewear": ["none", "glasses", "sunglasses"],
           "glasses_shape": ["round", "rectangular"]}
# Label codes below 0 are not classes: unknown (no loss), glasses of unknown kind ("not none" only),
# and a frame that is neither round nor rectangular (cat-eye, browline: the shape head should be unsure).
UNKNOWN, SOME_EYEWEAR, OTHER_SHAPE = -1, -2, -3
EYEWEAR_CODES = {"none": 0, "clear_glasses": 1, "sunglasses": 2, "glasses_unknown": SOME_EYEWEAR, "": UNKNOWN}
SHAPE_CODES = {"round": 0, "rectangle": 1, "other": OTHER_SHAPE, "": UNKNOWN}
SPLITS = ("train", "val", "test")
WILD_SPLIT = "wild"  # eyewear_wild's val: measured beside val, never trained on


@dataclass
class AttributeData:
    x: dict[str, np.ndarray]  # split -> (N, 64, 64, 3) uint8 RGB crops
    y: dict[str, dict[str, np.ndarray]]  # split -> head -> codes
    group: dict[str, np.ndarray]  # split -> skin_group ('' when unlabelled)
    dropped: dict[str, int]  # split -> images with no detection
    attempts: dict[str, int]  # how the detector found the faces
    fingerprint: str
    keypoints: dict[str, np.ndarray] = field(default_factory=dict)  # split -> (N, 6, 2) BlazeFace points in crop px
    wild_train: int = 0  # the last this many train rows are eyewear_wild's (no teacher, no frame cuts)


def _labels(rows: list[dict]) -> dict[str, np.ndarray]:
    return {
        "mask": np.array([0 if r["mask"] == "1" else 1 for r in rows]),
        "eyewear": np.array([EYEWEAR_CODES[r["eyewear"]] for r in rows]),
        "glasses_shape": np.array([SHAPE_CODES[r["glasses_shape"]] for r in rows]),
    }


@dataclass
class Crops:
    rows: list[dict]
    crops: np.ndarray  # (N, S, S, 3) uint8 RGB
    found: np.ndarray  # (N,) bool
    keypoints: np.ndarray  # (N, 6, 2) where the lenses go (training/lenses.py)
    attempts: dict[str, int]


def _crop_all(data_dir: Path, cache: Path, size: int, rule: CropRule) -> Crops:
    """Edge-style crops of every row of data_dir/labels.csv, cached (the detector pass takes minutes)."""
    labels_csv = data_dir / "labels.csv"
    recipe = json.dumps([rule.to_manifest(), STILL_PADDINGS, RETRY_MIN_SCORE])  # a new detector recipe re-crops
    digest = hashlib.sha256(labels_csv.read_bytes() + recipe.encode()).hexdigest()
    with open(labels_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    z = np.load(cache) if cache.exists() else None
    if z is not None and str(z["digest"]) == digest and z["crops"].shape[1] == size and "keypoints" in z:
        return Crops(rows, z["crops"], z["found"], z["keypoints"], json.loads(str(z["attempts"])))
    det, far = BlazeFaceDetector("short", 1), BlazeFaceDetector("full", 1)
    crops = np.zeros((len(rows), size, size, 3), np.uint8)
    found = np.zeros(len(rows), bool)
    points = np.zeros((len(rows), 6, 2), np.float32)
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
    return Crops(rows, crops, found, points, attempts)


def prepare(data_dir: Path, cache: Path, size: int = SIZE, rule: CropRule = CROP) -> AttributeData:
    """The face-attribute photos, split as labelled."""
    c = _crop_all(data_dir, cache, size, rule)
    split = np.array([r["split"] for r in c.rows])
    group = np.array([r["skin_group"] for r in c.rows])
    y_all = _labels(c.rows)
    x, y, groups, dropped, kps = {}, {}, {}, {}, {}
    for s in SPLITS:
        keep = (split == s) & c.found
        dropped[s] = int(((split == s) & ~c.found).sum())
        x[s] = c.crops[keep]
        kps[s] = c.keypoints[keep]
        y[s] = {h: v[keep] for h, v in y_all.items()}
        groups[s] = group[keep]
    fp = hashlib.sha256(c.crops[c.found].tobytes() + (data_dir / "labels.csv").read_bytes()).hexdigest()
    return AttributeData(x, y, groups, dropped, c.attempts, fp, kps)


def add_wild(data: AttributeData, wild_dir: Path, cache: Path, size: int, rule: CropRule) -> AttributeData:
    """eyewear_wild's train rows appended to train (the last `wild_train` rows), its val as WILD_SPLIT."""
    c = _crop_all(wild_dir, cache, size, rule)
    split = np.array([r["split"] for r in c.rows])
    y_all = _labels(c.rows)
    for s, into in (("train", "train"), ("val", WILD_SPLIT)):
        keep = (split == s) & c.found
        data.dropped[into] = data.dropped.get(into, 0) + int(((split == s) & ~c.found).sum())
        new_y = {h: v[keep] for h, v in y_all.items()}
        if into in data.x:
            data.x[into] = np.concatenate([data.x[into], c.crops[keep]])
            data.keypoints[into] = np.concatenate([data.keypoints[into], c.keypoints[keep]])
            data.y[into] = {h: np.concatenate([data.y[into][h], new_y[h]]) for h in new_y}
            data.group[into] = np.concatenate([data.group[into], np.full(int(keep.sum()), "")])
        else:
            data.x[into], data.keypoints[into], data.y[into] = c.crops[keep], c.keypoints[keep], new_y
            data.group[into] = np.full(int(keep.sum()), "")
        if s == "train":
            data.wild_train = int(keep.sum())
    for how, n in c.attempts.items():
        data.attempts[f"wild_{how}"] = n
    data.fingerprint = hashlib.sha256((data.fingerprint + hashlib.sha256(
        c.crops[c.found].tobytes() + (wild_dir / "labels.csv").read_bytes()).hexdigest()).encode()).hexdigest()
    return data


def crop_cache(size: int, rule: CropRule = CROP, name: str = "attribute_crops") -> Path:
    return Path(f"runs/{name}_{size}" + ("" if rule.filter == CROP.filter else f"_{rule.filter}") + ".npz")


def _summary(run: Path) -> dict:
    path = run / "train_summary.json"
    return json.loads(path.read_text()) if path.exists() else {}


def run_size(run: Path) -> int:
    """The input side a run was trained at (runs from before --size are 64)."""
    summary = _summary(run)
    return int(summary.get("size") or summary.get("settings", {}).get("size") or SIZE)


def run_crop(run: Path) -> CropRule:
    """The crop rule a run was trained on (runs from before --crop-filter: CROP)."""
    return CropRule.from_manifest(_summary(run).get("crop") or CROP.to_manifest())


def data_for(size: int, rule: CropRule, data_dir: Path = DEFAULT_DATA, cache: Path | None = None,
             wild_dir: Path | None = None) -> AttributeData:
    """The crops a model of this size and crop rule reads: what convert, report and the checks score it on."""
    data = prepare(data_dir, cache or crop_cache(size, rule), size, rule)
    if wild_dir is not None:
        data = add_wild(data, wild_dir, crop_cache(size, rule, "wild_crops"), size, rule)
    return data


def to_input(x_uint8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x_uint8).float().div_(127.5).sub_(1.0)
