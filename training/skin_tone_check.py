"""Is the skin tone right for every visitor? The mirror's own reading (the still-photo path of
`emoticon-mirror analyze`) against coarse labels used as bounds, never as answers.

    python -m training skin-tone                    # val photos, skin_groups, painted masks, backdrops
    python -m training skin-tone --split test --json
    python -m training skin-tone --fit              # the tone index's weight and band edges, from train

(a) bounds: a face labelled white never reads medium_dark or dark, one labelled black never light or
    medium_light (the face-attribute photos of the split, and ../shared/data/skin_groups, which is for
    measuring only); groups still separate (the share of each group inside its own half); the
    halfFace people photographed with and without a real mask read the same band.
(b) painted masks: five kinds (white, light blue, black, red, striped) painted along each face's mesh
    onto the split's unmasked labelled faces: the band with the mask against the band without.
(c) backdrops and light: the same faces pasted small on white, black and busy backdrops, and under a
    warm and a cool lamp: the band against the face's own photo.
A photo with no face or no reading counts in `none`; agreement is over the photos read.

--fit derives what edge/perceive/skin_tone.py ships from the train split alone: the weight of b* in the tone
index (a logistic fit of `white` against `black` on L* and b*), then the band edges from the two
groups' medians alone (their tails, the 3rd or 97th percentile of 165 or 237 faces, moved the middle
band by several units between two runs of the same recipe): the `white` median is the edge between
light and medium_light, the `black` median the edge between medium_dark and dark, and the middle
band is the middle third between them.
"""
from __future__ import annotations

import argparse
import csv
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.state import SKIN_TONES
from training.attributes import DEFAULT_DATA

SKIN_GROUPS = DEFAULT_DATA.parent / "skin_groups"
BOUNDS = {"white": {"medium_dark", "dark"}, "black": {"light", "medium_light"}}  # never these
OWN_HALF = {"white": {"light", "medium_light"}, "black": {"medium_dark", "dark"}}
MASKS = {  # BGR; "striped": navy and yellow bands
    "white": (235, 235, 235), "light_blue": (230, 200, 170), "black": (25, 25, 25), "red": (40, 40, 200),
    "striped": ((90, 30, 20), (40, 200, 230)),
}
# Mesh points outlining a mask: the jaw from ear to ear, then across the upper cheeks and mid-nose.
MASK_OUTLINE = (93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323,
                347, 195, 118)
SCENES = ("white", "black", "busy", "warm", "cool")
GREY = 128  # the room the lamps light: the face on a mid-grey backdrop, as the mirror's camera sees it


@dataclass
class Reading:
    tone: str | None  # None: no face, or no skin read
    points: np.ndarray | None = None  # the mesh, for painting


@dataclass
class Report:
    groups: dict[str, dict[str, Counter]] = field(default_factory=dict)  # set -> group -> tone counts
    pairs: list[tuple[str | None, str | None]] = field(default_factory=list)
    painted: dict[str, list[int | None]] = field(default_factory=dict)  # mask kind -> band moves
    scenes: dict[str, list[int | None]] = field(default_factory=dict)

    def summary(self) -> dict:
        out: dict = {"groups": {s: {g: dict(c) for g, c in gs.items()} for s, gs in self.groups.items()}}
        for s, gs in self.groups.items():
            for g, c in gs.items():
                n = sum(c.values())
                if g.lower() in BOUNDS and n:
                    out[f"{s}:{g}:off"] = sum(c[t] for t in BOUNDS[g.lower()]) / n
                    out[f"{s}:{g}:own_half"] = sum(c[t] for t in OWN_HALF[g.lower()]) / n
        moves = [band_move(a, b) for a, b in self.pairs]
        out["pairs"] = _agreement(moves)
        out["painted"] = {k: _agreement(v) for k, v in self.painted.items()}
        out["scenes"] = {k: _agreement(v) for k, v in self.scenes.items()}
        return out


def band_move(a: str | None, b: str | None) -> int | None:
    return None if a is None or b is None else abs(SKIN_TONES.index(a) - SKIN_TONES.index(b))


def _agreement(moves: list[int | None]) -> dict:
    """Over the variants with a reading; `none` counts those without (no face found: a detection
    miss, measured where detection is; or no skin visible)."""
    read = [m for m in moves if m is not None]
    n = len(read)
    return {"n": n, "same": sum(m == 0 for m in read) / n if n else float("nan"),
            "within_one": sum(m <= 1 for m in read) / n if n else float("nan"), "none": len(moves) - n}


class Reader:
    """The largest face's shown skin tone, as analyze reads a photo."""

    def __init__(self, models: Path | None = None):
        from edge import build
        from edge.config import from_dict

        cfg = from_dict({"detector": {"threads": 1}, **({"classify": {"models_dir": str(models)}} if models else {})})
        self.perception = build.perception(cfg, still=True)
        self.classes = self.perception.classifiers.classes("skin_tone")

    def __call__(self, image_bgr: np.ndarray) -> Reading:
        percepts, _ = self.perception.still(image_bgr)
        if not percepts:
            return Reading(None)
        p = percepts[0]
        tone = self.classes[int(np.argmax(p.probs["skin_tone"]))] if "skin_tone" in p.probs else None
        return Reading(tone, None if p.landmarks is None else p.landmarks.points)


def paint_mask(image: np.ndarray, points: np.ndarray, kind: str) -> np.ndarray:
    out = image.copy()
    poly = np.round(points[list(MASK_OUTLINE), :2]).astype(np.int32)
    colour = MASKS[kind]
    if isinstance(colour[0], tuple):  # stripes across the mask
        layer = np.empty_like(out)
        band = max(2, int(np.ptp(poly[:, 1]) / 8))
        for y in range(out.shape[0]):
            layer[y] = colour[(y // band) % 2]
    else:
        layer = np.empty_like(out)
        layer[:] = colour
    inside = np.zeros(out.shape[:2], np.uint8)
    cv2.fillPoly(inside, [poly], 1)
    out[inside > 0] = layer[inside > 0]
    return out


def scene(image: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """The photo small on a backdrop (a third of a 3x canvas); under a coloured lamp, the photo on a
    mid-grey backdrop with the whole scene lit by it (a close-up alone under a lamp gives no way to
    tell a cool light from a pale face, and a booth's camera sees the room)."""
    h, w = image.shape[:2]
    if kind in ("warm", "cool"):
        cast = np.array([0.8, 1.0, 1.2] if kind == "warm" else [1.2, 1.0, 0.8], np.float32)
        room = np.full((3 * h, 3 * w, 3), GREY, np.uint8)
        room[h:2 * h, w:2 * w] = image
        return np.clip(room.astype(np.float32) * cast, 0, 255).astype(np.uint8)
    if kind == "busy":
        rng = np.random.default_rng(seed)
        small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        canvas = cv2.resize(small, (3 * w, 3 * h), interpolation=cv2.INTER_NEAREST)
    else:
        canvas = np.full((3 * h, 3 * w, 3), 245 if kind == "white" else 12, np.uint8)
    canvas[h:2 * h, w:2 * w] = image
    return canvas


def labelled(data: Path, split: str) -> list[tuple[Path, str]]:
    with open(data / "labels.csv", newline="") as f:
        return [(data / r["file"], r["skin_group"]) for r in csv.DictReader(f)
                if r["split"] == split and r["skin_group"] and r["mask"] == "0"]


def skin_group_photos(folder: Path) -> list[dict]:
    with open(folder / "labels.csv", newline="") as f:
        return [dict(r, path=folder / r["file"]) for r in csv.DictReader(f)]


def check(read: Reader, photos: list[tuple[Path, str]], groups: list[dict], painted: bool = True,
          scenes: bool = True) -> Report:
    rep = Report(groups={"photos": defaultdict(Counter), "skin_groups": defaultdict(Counter)})
    for path, group in photos:
        image = cv2.imread(str(path))
        base = read(image)
        rep.groups["photos"][group][base.tone or "none"] += 1
        if painted and base.points is not None:
            for kind in MASKS:
                rep.painted.setdefault(kind, []).append(band_move(base.tone, read(paint_mask(image, base.points, kind)).tone))
        if scenes and base.tone is not None:
            for i, kind in enumerate(SCENES):
                rep.scenes.setdefault(kind, []).append(band_move(base.tone, read(scene(image, kind, i)).tone))
    pairs: dict[str, dict[str, str | None]] = defaultdict(dict)
    for r in groups:
        tone = read(cv2.imread(str(r["path"]))).tone
        rep.groups["skin_groups"][r["group"]][tone or "none"] += 1
        if r.get("person") and r.get("pose") == "0":
            pairs[r["person"]][r["mask"]] = tone
    rep.pairs = [(p["0"], p["1"]) for p in pairs.values() if "0" in p and "1" in p]
    return rep


def fit(read: Reader, photos: list[tuple[Path, str]]) -> dict:
    """The tone index's b* weight and band edges from labelled unmasked photos (see the docstring)."""
    from edge.perceive.skin_tone import measure

    meter = read.perception.classifiers.skin
    lab: dict[str, list[tuple[float, float]]] = {"white": [], "black": []}
    for path, group in photos:
        if group not in lab:
            continue
        image = cv2.imread(str(path))
        percepts, _ = read.perception.still(image)
        if not percepts:
            continue
        p = percepts[0]
        meter.begin_frame(image, [p.face], fresh=True)
        sample = measure(meter.cut(image, p.face, None if p.landmarks is None else p.landmarks.points))
        if sample is not None:
            lab[group].append((sample.lab[0], sample.lab[2]))
    x = np.array(lab["white"] + lab["black"], np.float64)
    y = np.r_[np.ones(len(lab["white"])), np.zeros(len(lab["black"]))]
    mu, sd = x.mean(axis=0), x.std(axis=0)
    xn, w, b = (x - mu) / sd, np.zeros(2), 0.0
    for _ in range(5000):  # plain logistic regression, a small L2 penalty
        g = 1 / (1 + np.exp(-(xn @ w + b))) - y
        w -= 0.1 * (xn.T @ g / len(y) + 0.01 * w)
        b -= 0.1 * g.mean()
    weight = float(-(w[1] / sd[1]) / (w[0] / sd[0]))
    index = {g: np.array([l - weight * bb for l, bb in v]) for g, v in lab.items()}
    mw, mb = float(np.median(index["white"])), float(np.median(index["black"]))
    third = (mw - mb) / 3
    edges = (mw, mb + 2 * third, mb + third, mb)
    return {"faces": {g: len(v) for g, v in lab.items()}, "b_weight": round(weight, 3),
            "edges": [round(e, 1) for e in edges]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training skin-tone", description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=("val", "test"), default="val", help="face-attribute photos (test: once)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--skin-groups", type=Path, default=SKIN_GROUPS)
    ap.add_argument("--models", type=Path, help="a models folder (default models_tflite)")
    ap.add_argument("--limit", type=int, help="only the first N photos of each set (a quick look)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--fit", action="store_true", help="derive the tone index's weight and band edges from train")
    args = ap.parse_args(argv)
    for folder in (args.data, args.skin_groups):
        if not (folder / "labels.csv").is_file():
            print(f"error: no labels.csv in {folder} (see ../shared/data/README.md)")
            return 2
    if args.fit:
        print(json.dumps(fit(Reader(args.models), labelled(args.data, "train")[: args.limit or None])))
        return 0
    photos, groups = labelled(args.data, args.split), skin_group_photos(args.skin_groups)
    if args.limit:
        photos, groups = photos[: args.limit], groups[: args.limit]
    out = check(Reader(args.models), photos, groups).summary()
    if args.json:
        print(json.dumps(out))
        return 0
    for s, gs in out["groups"].items():
        for g, c in sorted(gs.items()):
            print(f"{s:12s} {g:12s} " + " ".join(f"{t} {c.get(t, 0)}" for t in (*SKIN_TONES, "none")))
    for k, v in out.items():
        if ":" in k:
            print(f"{k:34s} {v:.3f}")
    for name in ("pairs",):
        print(f"masked/unmasked pairs: {out[name]}")
    for part in ("painted", "scenes"):
        for k, v in out[part].items():
            print(f"{part:8s} {k:11s} same {v['same']:.3f} within one {v['within_one']:.3f} (n {v['n']}, none {v['none']})")
    return 0
