"""Training crops cut the way the live mirror cuts them: the same photo, other places and sizes (issue 23).

Every training crop is cut once, from the photo as it is. The mirror cuts a face from a 640x480 frame
wherever the person stands, at whatever size, through the live detector, whose box moves with the
face's place and size; the attribute model's frame shape swings with that box (session 15: on val
crops under light, size and flip changes the candidates were steadier than the shipped model, through
the live path on 72 val faces they were less steady). So each training photo is also pasted into
frames the way the consistency check pastes its faces (`edge/commands/consistency.py`: the face's surroundings
scaled to a face 60-300 px wide, at a random place, under one of its lights) and cut from there by
the live detector and the edge crop rule. Paired views (`--pairs`) then read two different cuts of the
same face and are pulled together. Only the train split gets these cuts: val and test stay as they
are, so selection and the test bars are read as before.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from edge.commands.consistency import LIGHTS, nearest, place, random_centre, surroundings
from edge.perceive.crop import CropRule, crop_face, crop_matrix
from edge.perceive.detect import BlazeFaceDetector, TiledDetector, detect_still
from edge.perceive.track import distinct

log = logging.getLogger("training")
SIZES = (60.0, 300.0)  # face width in the frame, px: the consistency check's span (log-uniform)
VERSION = 1  # a change to how the cuts are made re-makes the cache


@dataclass
class LiveViews:
    """Per train crop, K more cuts of the same face: crops (N, K, S, S, 3) uint8 RGB, which were found
    (N, K), and their BlazeFace keypoints in crop pixels (N, K, 6, 2) for the painted lenses."""

    crops: np.ndarray
    found: np.ndarray
    keypoints: np.ndarray
    p: float = 0.5  # share of views cut from the frames rather than the photo

    def choose(self, idx: torch.Tensor) -> np.ndarray:
        """Per row, which frame cut a view takes: -1 for the photo's own crop (also when none was found)."""
        out = np.full(len(idx), -1)
        for i, r in enumerate(idx.numpy()):
            ok = np.flatnonzero(self.found[r])
            if len(ok) and float(torch.rand(())) < self.p:
                out[i] = int(ok[int(torch.randint(len(ok), ()))])
        return out

    def gather(self, idx: torch.Tensor, cuts: np.ndarray, base_x: torch.Tensor, base_kps: torch.Tensor | None
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The views for those choices, uint8 NHWC like the crops: base_x (the rows' own crops) where -1.
        The model's pixel scaling stays the training task's (`to_input`)."""
        x = base_x.clone()
        kps = base_kps.clone() if base_kps is not None else None
        for i, (r, j) in enumerate(zip(idx.numpy(), cuts)):
            if j >= 0:
                x[i] = torch.from_numpy(self.crops[r, j])
                if kps is not None:
                    kps[i] = torch.from_numpy(self.keypoints[r, j])
        return x, kps

    def pick(self, idx: torch.Tensor, base_x: torch.Tensor, base_kps: torch.Tensor | None
             ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One view per row: the photo's own crop, or (with probability p) one of its found frame cuts."""
        return self.gather(idx, self.choose(idx), base_x, base_kps)

    def pick_pair(self, idx: torch.Tensor, base_x: torch.Tensor, base_kps: torch.Tensor | None
                  ) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """Two views per row, each picked as `pick` does."""
        first, second = self.choose(idx), self.choose(idx)
        return [self.gather(idx, first, base_x, base_kps), self.gather(idx, second, base_x, base_kps)]


def frames_for(image_bgr: np.ndarray, face, k: int, rng: np.random.Generator):
    """K frames with the face pasted as the consistency check pastes it; yields (frame, centre, size)."""
    region, fw = surroundings(image_bgr, face)
    for _ in range(k):
        size = float(math.exp(rng.uniform(math.log(SIZES[0]), math.log(SIZES[1]))))
        centre = random_centre(rng, size)
        light = list(LIGHTS)[int(rng.integers(len(LIGHTS)))]
        yield place(region, fw, int(round(size)), centre, LIGHTS[light]), centre, size


def cut(frame: np.ndarray, tiled: TiledDetector, centre: tuple[float, float], size: float, rule: CropRule,
        side: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The live detector on the frame (every tile, as `Perception.once`), the face pasted at centre
    cut by the edge crop rule; None when the detector misses it."""
    best = nearest([(f.box, f) for f in distinct(tiled.detect(frame, every_tile=True))], centre, size)
    if best is None:
        return None
    m = crop_matrix(best, rule, (side, side))
    return crop_face(frame, best, rule, (side, side), "rgb"), best.keypoints @ m[:, :2].T + m[:, 2]


def prepare(data_dir: Path, cache: Path, side: int, rule: CropRule, k: int, seed: int = 0) -> LiveViews:
    """K frame cuts of every train photo the detector finds, in the order of the train crops
    (`training/attributes.py` prepare keeps the same photos); cached, a few minutes to make."""
    labels_csv = data_dir / "labels.csv"
    recipe = json.dumps([rule.to_manifest(), side, k, seed, SIZES, VERSION])
    digest = hashlib.sha256(labels_csv.read_bytes() + recipe.encode()).hexdigest()
    if cache.exists():
        z = np.load(cache)
        if str(z["digest"]) == digest:
            return LiveViews(z["crops"], z["found"], z["keypoints"])
    rows = [r for r in csv.DictReader(open(labels_csv)) if r["split"] == "train"]
    det, far = BlazeFaceDetector("short", 1), BlazeFaceDetector("full", 1)
    tiled = TiledDetector(BlazeFaceDetector("short", 1))
    rng = np.random.default_rng(seed)
    crops, found, points = [], [], []
    for n, r in enumerate(rows):
        img = cv2.imread(str(data_dir / r["file"]))
        faces, _ = detect_still(det, img, far)
        if not faces:  # left out of the train crops too
            continue
        c = np.zeros((k, side, side, 3), np.uint8)
        ok = np.zeros(k, bool)
        kp = np.zeros((k, 6, 2), np.float32)
        for j, (frame, centre, size) in enumerate(frames_for(img, faces[0], k, rng)):
            got = cut(frame, tiled, centre, size, rule, side)
            if got is not None:
                c[j], kp[j], ok[j] = got[0], got[1], True
        crops.append(c)
        found.append(ok)
        points.append(kp)
        if n % 500 == 0:
            log.info("frame cuts: %d of %d train photos", n, len(rows))
    live = LiveViews(np.stack(crops), np.stack(found), np.stack(points))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, crops=live.crops, found=live.found, keypoints=live.keypoints, digest=digest)
    log.info("frame cuts: %d photos, %.1f%% of %d cuts found", len(live.found), 100 * live.found.mean(), live.found.size)
    return live


def cache_path(crops_cache: Path, k: int) -> Path:
    """Beside the photo crops' cache: runs/attribute_crops_64_area.npz -> runs/attribute_live_64_area_k4.npz."""
    name = crops_cache.name.replace("attribute_crops_", "attribute_live_")
    return crops_cache.with_name(name.replace(".npz", f"_k{k}.npz"))


def load(data_dir: Path, crops_cache: Path, side: int, rule: CropRule, k: int, p: float) -> LiveViews:
    """The frame cuts a training run asks for (made on first use)."""
    live = prepare(data_dir, cache_path(crops_cache, k), side, rule, k)
    live.p = p
    return live


def padded(live: LiveViews, rows: int) -> LiveViews:
    """The same cuts with `rows` more train faces that have none (they always read their own crop)."""
    n, k = live.found.shape
    return LiveViews(np.concatenate([live.crops, np.zeros((rows, *live.crops.shape[1:]), live.crops.dtype)]),
                     np.concatenate([live.found, np.zeros((rows, k), bool)]),
                     np.concatenate([live.keypoints, np.zeros((rows, *live.keypoints.shape[1:]), live.keypoints.dtype)]),
                     live.p)
