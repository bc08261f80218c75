"""Same face, same emoticon: how steady each attribute is when only the framing changes.

A visitor who steps aside, comes closer, or stands under a warmer lamp is still the same person,
so every attribute should keep its label. This check takes a face photo, pastes the face with its
surroundings into a mid-grey 640x480 frame at several sizes and places, under several exposures and
colour casts, and mirrored, and sends each frame through the live path for one frame (detector,
crop, classifiers, skin tone; no smoothing) or through `analyze`. Per attribute it reports the share
of variants that give the face's majority label and the largest change of that label's score;
separately, how often a frame and its mirror image get the same labels.

Labels and classes come from the classifiers (the manifest), never from a list kept here.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Callable, TypeVar

import cv2
import numpy as np

from edge.perceive import labels as shown_labels
from edge.perceive.classify import ClassifierSet
from edge.perceive.detect import BlazeFaceDetector, detect_still
from edge.perceive.perception import Perception
from edge.state import Face

FRAME_HW = (480, 640)
GREY = 128
SURROUND = 2.6  # the pasted region, as a multiple of the face width (the recipe)
# (B, G, R) gains: exposure x0.7 .. x1.3 and a warm and a cool cast of the whole scene
LIGHTS: dict[str, tuple[float, float, float]] = {
    "x0.7": (0.7, 0.7, 0.7), "x1.0": (1.0, 1.0, 1.0), "x1.3": (1.3, 1.3, 1.3),
    "warm": (0.8, 1.0, 1.2), "cool": (1.2, 1.0, 0.8),
}
TARGETS = {"expression": 0.95, "mask": 0.98, "eyewear": 0.97, "glasses_shape": 0.90, "skin_tone": 0.90}
SKIN_WORST, SKIN_MAX_BANDS, MIRROR_TARGET = 0.75, 1, 0.98
# The skin tone is judged for steadiness where only the framing changes (size, place, mirror: the
# plain light); a brighter or darker exposure or a lamp may move it, by at most SKIN_MAX_BANDS from
# that majority (the room's brightness is not read into the skin any more: a face in a darker photo
# does read darker).
SKIN_STEADY_LIGHT = "x1.0"

# One perceived frame: per face found, its box and head -> class probabilities.
Perceive = Callable[[np.ndarray], list[tuple[np.ndarray, dict[str, np.ndarray]]]]


@dataclass(frozen=True)
class Grid:
    """Which variants to make; the default is the full check, tests use a smaller one."""

    sizes: tuple[int, ...] = (60, 90, 130, 190, 300)  # face width in the frame, px
    positions: int = 3  # random places per size (the same places for every face: seeded)
    lights: tuple[str, ...] = tuple(LIGHTS)
    mirror: bool = True
    seed: int = 0


@dataclass
class Variant:
    size: int
    position: int
    light: str
    mirrored: bool
    labels: dict[str, str] | None  # None: the face was not found in this frame
    scores: dict[str, dict[str, float]] = field(default_factory=dict)


def surroundings(image_bgr: np.ndarray, face: Face) -> tuple[np.ndarray, float]:
    """A square SURROUND x face width around the face (grey where the photo ends), and the face
    width in it: the face with what a camera would see around it, ready to be scaled."""
    fw = float(max(face.box[2], face.box[3]))
    side = int(round(SURROUND * fw))
    cx, cy = face.box[0] + face.box[2] / 2, face.box[1] + face.box[3] / 2
    m = np.array([[1, 0, side / 2 - cx], [0, 1, side / 2 - cy]], np.float32)
    region = cv2.warpAffine(image_bgr, m, (side, side), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=(GREY, GREY, GREY))
    return region, fw


def place(region: np.ndarray, face_w: float, size: int, centre: tuple[float, float],
          gains: tuple[float, float, float]) -> np.ndarray:
    """The region scaled so the face is `size` px wide, centred at `centre` in a grey frame, then
    the whole scene's light changed (a lamp lights the wall as well as the face)."""
    h, w = FRAME_HW
    s = size / face_w
    side = max(1, int(round(region.shape[1] * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    scaled = cv2.resize(region, (side, side), interpolation=interp)
    frame = np.full((h, w, 3), GREY, np.uint8)
    x0, y0 = int(round(centre[0] - side / 2)), int(round(centre[1] - side / 2))
    fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(w, x0 + side), min(h, y0 + side)
    frame[fy0:fy1, fx0:fx1] = scaled[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
    lit = frame.astype(np.float32) * np.array(gains, np.float32)
    return np.clip(np.round(lit), 0, 255).astype(np.uint8)


def random_centre(rng: np.random.Generator, size: float) -> tuple[float, float]:
    """A random centre for a face `size` px wide, its box kept inside the frame."""
    h, w = FRAME_HW
    m = 0.6 * size
    return float(rng.uniform(m, max(m, w - m))), float(rng.uniform(m, max(m, h - m)))


def centres(grid: Grid) -> dict[int, list[tuple[float, float]]]:
    """Random face centres per size (seeded, so every face and every run is tested at the same places)."""
    rng = np.random.default_rng(grid.seed)
    return {size: [random_centre(rng, size) for _ in range(grid.positions)] for size in grid.sizes}


T = TypeVar("T")


def nearest(found: list[tuple[np.ndarray, T]], centre: tuple[float, float], size: float) -> T | None:
    """What goes with the box whose centre is within half a face width of where the face was pasted."""
    best, best_d = None, 0.5 * size
    for box, probs in found:
        d = math.hypot(box[0] + box[2] / 2 - centre[0], box[1] + box[3] / 2 - centre[1])
        if d < best_d:
            best, best_d = probs, d
    return best


def run_variants(image_bgr: np.ndarray, face: Face, perceive: Perceive, classifiers: ClassifierSet,
                 grid: Grid) -> list[Variant]:
    region, fw = surroundings(image_bgr, face)
    out = []
    for size, places in centres(grid).items():
        for pos, centre in enumerate(places):
            for light in grid.lights:
                frame = place(region, fw, size, centre, LIGHTS[light])
                for mirrored in ((False, True) if grid.mirror else (False,)):
                    c = (FRAME_HW[1] - centre[0], centre[1]) if mirrored else centre
                    probs = nearest(perceive(cv2.flip(frame, 1) if mirrored else frame), c, size)
                    v = Variant(size, pos, light, mirrored, None)
                    if probs is not None:
                        v.labels = classifiers.labels(probs)
                        v.scores = {hd: dict(zip(classifiers.classes(hd), map(float, p))) for hd, p in probs.items()}
                    out.append(v)
    return out


NO_ANSWER = "-"  # a head with no answer for a variant (skin tone with no skin visible): a change too


def top(v: Variant, head: str) -> str:
    """The label the mirror shows for the head (a frame shape it is unsure of is "plain"), before
    analyze's rule that hides a frame shape without glasses."""
    s = v.scores.get(head)
    if not s:
        return NO_ANSWER
    return shown_labels.name(list(s), shown_labels.pick(head, np.array(list(s.values()))))


@dataclass
class HeadReport:
    majority: str
    agreement: float  # share of variants (face found) with the majority label
    counts: dict[str, int]
    max_score_change: float  # largest minus smallest score of the majority label
    band_spread: int | None = None  # skin tone: the largest move from the majority band, any light


def summarize(variants: list[Variant], classes: dict[str, list[str]]) -> dict:
    """Per head: majority, agreement, counts, largest score change; mirror agreement per head.
    The frame shape is judged only on faces whose majority eyewear is clear glasses, and then on
    every variant (its eyewear's own flips are already counted under eyewear)."""
    seen = [v for v in variants if v.labels is not None]
    report: dict = {"variants": len(variants), "found": round(len(seen) / max(1, len(variants)), 4), "heads": {}}
    if not seen:
        return report
    heads: dict[str, HeadReport] = {}
    eyewear = Counter(v.labels.get("eyewear") for v in seen).most_common(1)[0][0]
    for head in dict.fromkeys(h for v in seen for h in v.scores):
        if head == "glasses_shape" and eyewear != "glasses":
            continue
        judged = seen
        if head == "skin_tone":
            judged = [v for v in seen if v.light == SKIN_STEADY_LIGHT] or seen
        counts = Counter(top(v, head) for v in judged)
        major, n = counts.most_common(1)[0]
        sc = [v.scores.get(head, {}).get(major, 0.0) for v in judged]
        hr = HeadReport(major, round(n / len(judged), 4), dict(counts), round(max(sc) - min(sc), 4))
        if head == "skin_tone" and major != NO_ANSWER:
            at = classes[head].index(major)
            moves = [abs(classes[head].index(top(v, head)) - at) for v in seen if top(v, head) != NO_ANSWER]
            hr.band_spread = max(moves, default=0)
        heads[head] = hr
    report["heads"] = {h: asdict(r) for h, r in heads.items()}
    pairs = {(v.size, v.position, v.light): v for v in seen if not v.mirrored}
    same: dict[str, list[bool]] = {h: [] for h in heads}
    for v in seen:
        a = pairs.get((v.size, v.position, v.light)) if v.mirrored else None
        if a is None:
            continue
        for h in heads:
            same[h].append(top(a, h) == top(v, h))
    report["mirror"] = {h: round(float(np.mean(s)), 4) for h, s in same.items() if s}
    return report


def overall(faces: dict[str, dict]) -> dict:
    """Mean and worst agreement over faces per head, mirror agreement over all pairs, and which
    of the issue's targets hold."""
    out: dict = {"heads": {}, "targets": {}}
    heads = sorted({h for r in faces.values() for h in r.get("heads", {})})
    for h in heads:
        vals = [r["heads"][h]["agreement"] for r in faces.values() if h in r.get("heads", {})]
        out["heads"][h] = {"mean": round(float(np.mean(vals)), 4), "worst": round(min(vals), 4), "faces": len(vals)}
        if h in TARGETS:
            out["targets"][h] = out["heads"][h]["mean"] >= TARGETS[h]
    mirror = [r["mirror"][h] for r in faces.values() for h in r.get("mirror", {})]
    out["mirror"] = round(float(np.mean(mirror)), 4) if mirror else None
    out["targets"]["mirror"] = out["mirror"] is not None and out["mirror"] >= MIRROR_TARGET
    skin = [r["heads"]["skin_tone"] for r in faces.values() if "skin_tone" in r.get("heads", {})]
    if skin:
        out["targets"]["skin_tone_worst"] = min(s["agreement"] for s in skin) >= SKIN_WORST
        out["targets"]["skin_tone_bands"] = all(s["band_spread"] is not None and s["band_spread"] <= SKIN_MAX_BANDS
                                                for s in skin)
    return out


def live_perceiver(perception: Perception) -> Perceive:
    """What the frame loop does with one frame of a new scene (Perception.once: the live detector,
    every model, fresh light for each variant)."""
    def perceive(frame: np.ndarray):
        return [(p.face.box, p.probs) for p in perception.once(frame)]
    return perceive


def analyze_perceiver(perception: Perception) -> Perceive:
    """What `analyze` does with a photo (Perception.still: its retries when the live detector finds nothing)."""
    def perceive(frame: np.ndarray):
        return [(p.face.box, p.probs) for p in perception.still(frame)[0]]
    return perceive


def source_face(detector: BlazeFaceDetector, image_bgr: np.ndarray) -> Face | None:
    """The largest face of the source photo, found as analyze finds it (photos are often tight)."""
    faces, _ = detect_still(detector, image_bgr)
    return faces[0] if faces else None


def format_table(faces: dict[str, dict], total: dict) -> str:
    """The report as the issue shows it: one row per face, share of variants with the majority."""
    heads = list(total["heads"])
    lines = ["| face | found | " + " | ".join(heads) + " | mirror |", "|---" * (len(heads) + 3) + "|"]
    for name, r in faces.items():
        cells = []
        for h in heads:
            hr = r.get("heads", {}).get(h)
            cells.append("-" if hr is None else f"{hr['agreement']:.2f} {hr['majority']} (±{hr['max_score_change']:.2f})")
        mirror = np.mean(list(r["mirror"].values())) if r.get("mirror") else float("nan")
        lines.append(f"| {name} | {r['found']:.2f} | " + " | ".join(cells) + f" | {mirror:.3f} |")
    lines.append("| mean (worst) | | " + " | ".join(
        f"{total['heads'][h]['mean']:.2f} ({total['heads'][h]['worst']:.2f})" for h in heads) + f" | {total['mirror']} |")
    lines.append("targets: " + ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in total["targets"].items()))
    return "\n".join(lines)


def check_images(paths: list, detector: BlazeFaceDetector, classifiers: ClassifierSet, perceive: Perceive,
                 grid: Grid) -> tuple[dict[str, dict], list[str]]:
    """Per image: the summary of its variants. Unreadable images and photos with no face become
    one error line each (the caller exits non-zero), and the others are still checked."""
    from edge.commands.analyze import expand
    from edge.sources import SourceError
    from edge.sources.files import read_image

    reports, errors = {}, []
    classes = {h: classifiers.classes(h) for h in classifiers.heads}
    for path in expand([str(p) for p in paths]):
        try:
            image = read_image(path)
        except SourceError as e:
            errors.append(f"{path}: {str(e).split(': ', 1)[-1]}")
            continue
        face = source_face(detector, image)
        if face is None:
            errors.append(f"{path}: no face found")
            continue
        reports[path.name] = summarize(run_variants(image, face, perceive, classifiers, grid), classes)
    return reports, errors
