"""Skin tone, measured from skin colour: never a classifier of race or ethnicity.

The skin is read where the face mesh says it is (forehead, cheeks, nose, chin), only where a mask or
sunglasses (the attribute model's answer, taken as "masked" already when it is unsure) leave it bare;
a face without a mesh is read on patches placed by the detector's keypoints. What is not skin there
(beard, hair, a frame, highlights) is dropped by a colour test and a luminance window, skin the camera
clipped gets its colour back from the unclipped skin, and the light's colour (never its brightness)
is taken from the face's own surroundings (edge/perceive/skin_light.py).

The median skin colour goes to CIELAB and one tone index, L* - B_WEIGHT * b*: lightness first, the
yellow axis second, as Thong et al. (ICCV 2023) read skin, instead of the Individual Typology Angle,
which is mostly L* near L* = 50 and swings with a warm cast (b* up, ITA down: light-skinned people in
warm photos read dark). The weight and the band edges were fitted on the face-attribute train split's
coarse groups, used as bounds (training/reports/skin_tone.md), never as answers; a reading made on
little skin is pulled toward the middle band, so weak evidence never jumps two bands.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.calibration import Calibration
from edge.perceive.crop import warp
from edge.perceive.detect import BlazeFaceDetector, mirror_pooled
from edge.perceive.skin_light import RELIABLE_BACKGROUND, MIN_BACKGROUND, SATURATED, balance, surroundings
from edge.state import SKIN_TONES, Face

# The tone index and its band edges, lightest first (light > 70.5 > medium_light > 57.9 > medium > 45.3 >
# medium_dark > 32.7 > dark), derived from the face-attribute train split alone by
# `python -m training skin-tone --fit` (its docstring gives the rule, fixed before any evaluation).
B_WEIGHT = 0.594
TONE_EDGES = (70.5, 57.9, 45.3, 32.7)
MIDDLE = (TONE_EDGES[1] + TONE_EDGES[2]) / 2
BAND_SOFTNESS = 3.0  # index units: how quickly band scores fall off past an edge
MIN_SKIN_PIXELS = 12
# Fewer skin pixels than this (a masked face under a fringe, a small face in sunglasses): the reading
# is pulled half way toward the middle band and kept within one band of it. Weak evidence may be one
# band off, never two.
HUMBLE_PIXELS = 60
HUMILITY = 0.5
# Skin is measured on the face resampled to a fixed eye distance (area-averaged when shrinking), so a
# 60 px face and a 300 px face give the median of the same regions at the same smoothing.
CANON_EYES = 40.0
CANON_PX = 128
CANON_EYE_Y = 44  # the eyes' row on the canvas: the forehead lies above, the chin 1.9 eye distances below
REGION_RADIUS = 0.15  # eye distances, around each mesh point of a region
PATCH_RADIUS = 0.28  # eye distances, around each keypoint patch (faces without a mesh)
# Of the skin pixels, the median of those between these luminance percentiles: the darkest fifth is
# shadow, stubble and a lens rim, the brightest fifth shine (40-90 read dark skin lighter and
# separated the train split's groups less).
SKIN_LUMA = (20, 80)

# Face-mesh points (MediaPipe's 468, the same in the 478-point mesh) each region is read around.
MESH_REGIONS: dict[str, tuple[int, ...]] = {
    "forehead": (151, 9, 108, 337),
    "right_cheek": (205, 50, 187, 123),
    "left_cheek": (425, 280, 411, 352),
    "nose": (195, 5, 4),
    "nose_bridge": (6, 168, 197),  # above where a mask's top edge sits
    "chin": (199, 175, 152),
}
# Without a mesh: patches placed by the detector's keypoints, in eye distances d from the eyes
# ("down" toward the mouth, "out" away from the nose), radius factor on PATCH_RADIUS.
KEYPOINT_PATCHES: dict[str, tuple[str, float, float, float]] = {
    "right_cheek": ("right_eye", 0.55, 0.05, 1.0),
    "left_cheek": ("left_eye", 0.55, 0.05, 1.0),
    "forehead": ("eyes", -0.45, 0.0, 1.2),
    "nose_bridge": ("eyes", 0.08, 0.0, 0.7),
}
OPEN = tuple(MESH_REGIONS)
MASKED = ("forehead", "nose_bridge")
SUNGLASSES = ("forehead", "nose", "chin")
BOTH = ("forehead",)


def patches_for(mask: bool, sunglasses: bool) -> tuple[str, ...]:
    """The regions where skin shows, given what the attribute model says the face wears."""
    if mask:
        return BOTH if sunglasses else MASKED
    return SUNGLASSES if sunglasses else OPEN


@dataclass
class SkinSample:
    index: float  # the tone index, L* - B_WEIGHT * b*
    lab: tuple[float, float, float]
    pixels: int  # skin pixels the median came from


def keypoint_centres(face: Face) -> dict[str, list[tuple[float, float, float]]]:
    """(x, y, radius) of every keypoint patch, in frame pixels, following head roll."""
    right_eye, left_eye, nose, mouth = (face.keypoints[i].astype(np.float64) for i in range(4))
    eyes = (right_eye + left_eye) / 2
    span = left_eye - right_eye
    d = max(float(np.hypot(*span)), 4.0)
    across = span / d
    down = np.array([-across[1], across[0]])
    if np.dot(down, mouth - eyes) < 0:  # keypoints upside down would flip it
        down = -down
    points = {"right_eye": (right_eye, -across), "left_eye": (left_eye, across), "eyes": (eyes, across)}
    out = {}
    for name, (origin, along, outward, radius) in KEYPOINT_PATCHES.items():
        at, away = points[origin]
        out[name] = [(*(at + along * d * down + outward * d * away), PATCH_RADIUS * d * radius)]
    return out


def mesh_centres(points: np.ndarray) -> dict[str, list[tuple[float, float, float]]]:
    """(x, y, radius) of every mesh region's circles, in frame pixels."""
    right = points[[33, 133], :2].mean(axis=0)
    left = points[[263, 362], :2].mean(axis=0)
    r = REGION_RADIUS * max(float(np.hypot(*(left - right))), 4.0)
    return {name: [(float(points[i, 0]), float(points[i, 1]), r) for i in ids] for name, ids in MESH_REGIONS.items()}


@dataclass
class SkinCrop:
    """What the crop stage cuts for the skin tone: the face resampled to CANON_EYES between the
    eyes, the colour of the light it stands in, and which canvas pixels each region covers. Which
    regions are read is decided later, once the attribute model has said what covers the face."""

    canvas: np.ndarray  # CANON_PX x CANON_PX BGR, float32
    gains: np.ndarray
    regions: dict[str, np.ndarray]  # name -> flat indices into the canvas


def _eyes(face: Face, points: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if points is not None:
        return points[[33, 133], :2].mean(axis=0), points[[263, 362], :2].mean(axis=0)
    return face.keypoints[0].astype(np.float64), face.keypoints[1].astype(np.float64)


def cut(frame_bgr: np.ndarray, face: Face, gains: np.ndarray, points: np.ndarray | None = None) -> SkinCrop:
    """points: the face's mesh (frame pixels), where there is one; else the keypoint patches."""
    h, w = frame_bgr.shape[:2]
    right, left = _eyes(face, points)
    k = CANON_EYES / max(float(np.hypot(*(left - right))), 4.0)
    ex, ey = (right + left) / 2
    m = np.array([[k, 0, CANON_PX / 2 - k * ex], [0, k, CANON_EYE_Y - k * ey]], np.float32)
    canvas = warp(frame_bgr, m, (CANON_PX, CANON_PX)).astype(np.float32)
    regions = {}
    for name, circles in (mesh_centres(points) if points is not None else keypoint_centres(face)).items():
        inside = np.zeros((CANON_PX, CANON_PX), bool)
        for cx, cy, r in circles:
            if not (0 <= cx < w and 0 <= cy < h):
                continue  # a circle off the frame would read the repeated border
            u, v, rk = cx * k + m[0, 2], cy * k + m[1, 2], r * k
            x0, x1 = max(0, int(u - rk)), min(CANON_PX, int(u + rk) + 2)
            y0, y1 = max(0, int(v - rk)), min(CANON_PX, int(v + rk) + 2)
            if x1 <= x0 or y1 <= y0:
                continue
            ys, xs = np.ogrid[y0:y1, x0:x1]
            inside[y0:y1, x0:x1] |= (xs - u) ** 2 + (ys - v) ** 2 <= rk * rk
        if inside.sum() >= 4:
            regions[name] = np.flatnonzero(inside)
    return SkinCrop(canvas, gains, regions)


def _skin_locus(px: np.ndarray) -> np.ndarray:
    """A wide skin locus in CrCb (all skin tones share it; masks, lenses, hair and walls mostly do
    not), on OpenCV's YCrCb computed in float, so skin brighter than 255 after balancing is kept."""
    b, g, r = px[:, 0], px[:, 1], px[:, 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cr, cb = (r - y) * 0.713 + 128, (b - y) * 0.564 + 128
    return (cr >= 133) & (cr <= 180) & (cb >= 72) & (cb <= 130) & (y > 15)


def _unclip(raw: np.ndarray, gains: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Skin the camera clipped, with its clipped red (and green) re-estimated from the unclipped
    skin's own R/G and G/B ratios: a clipped pixel has lost its colour and falls out of the skin
    locus, which left only the shadowed skin of a brightly lit light face. The ratios come from the
    brighter half of the unclipped skin (lipstick, a red frame and shadow have a far higher R/G).
    Pixels with blue clipped too (white, highlights) stay as they are. Returns the pixels and which
    of them were re-estimated."""
    clipped = raw >= SATURATED
    none = np.zeros(len(raw), bool)
    if not clipped.any():
        return raw, none
    ok = ~clipped.any(axis=1) & (raw.min(axis=1) > 10)
    ok &= _skin_locus(raw * gains)
    fix_g = clipped[:, 1] & ~clipped[:, 0]
    fix_r = clipped[:, 2] & ~clipped[:, 0]
    if ok.sum() < MIN_SKIN_PIXELS:
        return raw, fix_r | fix_g  # nearly all of the skin is clipped: keep it as it is
    ref = ok & (raw[:, 1] >= np.median(raw[ok, 1]))
    out = raw.copy()
    g_over_b = float(np.median(raw[ref, 1] / raw[ref, 0]))
    r_over_g = float(np.median(raw[ref, 2] / raw[ref, 1]))
    out[fix_g, 1] = np.maximum(out[fix_g, 1], out[fix_g, 0] * g_over_b)
    out[fix_r, 2] = np.maximum(out[fix_r, 2], out[fix_r, 1] * r_over_g)
    return out, fix_g | fix_r


def skin_pixels(crop: SkinCrop, names: tuple[str, ...] = OPEN) -> np.ndarray:
    """Balanced BGR float pixels (N, 3) from the named regions that pass the skin colour test."""
    flat = crop.canvas.reshape(-1, 3)
    chunks = [flat[idx] for name, idx in crop.regions.items() if name in names]
    if not chunks:
        return np.zeros((0, 3), np.float32)
    raw, fixed = _unclip(np.concatenate(chunks), crop.gains)
    px = raw * crop.gains
    px = px[_skin_locus(px) | fixed]  # re-estimated skin may be redder than the locus allows
    if len(px) >= MIN_SKIN_PIXELS:
        lum = px.mean(axis=1)
        lo, hi = np.percentile(lum, SKIN_LUMA)
        px = px[(lum >= lo) & (lum <= hi)]
    return px


def measure(crop: SkinCrop, names: tuple[str, ...] = OPEN) -> SkinSample | None:
    px = skin_pixels(crop, names)
    if len(px) < MIN_SKIN_PIXELS // 2:
        return None
    lab = lab_of(np.median(px, axis=0))
    return SkinSample(tone_index(lab), lab, len(px))


def tone_index(lab: tuple[float, float, float]) -> float:
    return lab[0] - B_WEIGHT * lab[2]


def humble(sample: SkinSample) -> float:
    """The index shown: a reading on little skin is pulled toward the middle band (HUMBLE_PIXELS)."""
    if sample.pixels >= HUMBLE_PIXELS:
        return sample.index
    inner = 0.5 * (TONE_EDGES[0] - TONE_EDGES[1]), 0.5 * (TONE_EDGES[2] - TONE_EDGES[3])
    return float(np.clip(MIDDLE + HUMILITY * (sample.index - MIDDLE), TONE_EDGES[3] + inner[1], TONE_EDGES[0] - inner[0]))


_SRGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
                         [0.019334, 0.119193, 0.950227]])
_D65_WHITE = np.array([0.950456, 1.0, 1.088754])


def lab_of(bgr: np.ndarray) -> tuple[float, float, float]:
    """CIELAB (L*, a*, b*) of one BGR colour on the 0..255 scale, values above 255 allowed.

    OpenCV's conversion (same formula) clips at 255 first: skin that the balance lifted past 255
    turned white and b* fell to 0."""
    c = np.maximum(np.asarray(bgr, np.float64)[::-1] / 255.0, 0.0)
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    t = (_SRGB_TO_XYZ @ lin) / _D65_WHITE
    f = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    return float(116 * f[1] - 16), float(500 * (f[0] - f[1])), float(200 * (f[1] - f[2]))


def band_scores(index: float) -> np.ndarray:
    """Soft membership of the five tones (sums to 1): a band's score falls off with the distance
    of the measured index from it, so a face near a band edge is split between the two tones."""
    lo_edges = (*TONE_EDGES, -np.inf)
    hi_edges = (np.inf, *TONE_EDGES)
    dist = np.array([max(0.0, lo - index, index - hi) for lo, hi in zip(lo_edges, hi_edges)])
    score = np.exp(-((dist + 0.5 * BAND_SOFTNESS) / BAND_SOFTNESS) ** 2)
    return score / score.sum()


def tone_of(index: float) -> str:
    for tone, edge in zip(SKIN_TONES, TONE_EDGES):
        if index > edge:
            return tone
    return SKIN_TONES[-1]


class SkinToneMeter:
    """The 'skin_tone' head: per face, a measured tone index (scored by band_scores) under the
    colour of the light around that face, so two people in one frame, or one person anywhere in it,
    are each measured the same way."""

    name = "skin_tone"
    classes = list(SKIN_TONES)

    WB_EVERY = 15  # frames: the light around a person changes over seconds, not frames

    def __init__(self, detector: BlazeFaceDetector | None = None, pooled: bool = True,
                 calibration: Calibration | None = None) -> None:
        """pooled: a face with no mesh has its keypoint patches placed by keypoints read on the face
        and on its mirror image (`mirror_pooled`), so a visitor and their mirror image get the same
        patches; a mesh reads a face and its mirror image alike already. calibration: the live
        camera's grey-card calibration (never for photos)."""
        self.detector = (detector or BlazeFaceDetector("short", 1)) if pooled else None
        self.calibration = calibration
        self._boxes: list[np.ndarray] = []
        self._frames = 0
        self._light: list[tuple[np.ndarray, np.ndarray, int]] = []  # (box, gains, frame measured)
        self._scene: np.ndarray | None = None  # the room's light, last read around a face with room around it

    def begin_frame(self, frame_bgr: np.ndarray, faces: list[Face], fresh: bool = False) -> None:
        """Remember the frame's faces (each is cut out of the others' surroundings). fresh: an
        unrelated picture (still photos, the consistency check), whose light says nothing about
        the last one's."""
        self._boxes = [f.box for f in faces]
        self._frames += 1
        if fresh:
            self._light, self._scene = [], None
        self._light = [e for e in self._light if self._frames - e[2] < self.WB_EVERY]

    def gains(self, frame_bgr: np.ndarray, face: Face) -> np.ndarray:
        """The gains this face's skin is read through: the light's colour around it; with a grey-card
        calibration of the camera, the card's colour gains and exposure reference where the camera
        holds the settings they were measured under (edge/calibration.py)."""
        cal = self.calibration
        if cal is None:
            return self._room(frame_bgr, face)
        return cal.meter_gains(None if cal.colour_held else self._room(frame_bgr, face))

    def _room(self, frame_bgr: np.ndarray, face: Face) -> np.ndarray:
        """The light's colour around this face, re-measured every WB_EVERY frames for a face that
        stayed about where it was; the room's instead for a face with too little around it."""
        box = face.box
        for old, gains, _ in self._light:
            if abs(old[0] + old[2] / 2 - box[0] - box[2] / 2) < 0.25 * box[2] and 0.8 < old[2] / box[2] < 1.25:
                return gains
        px, share = surroundings(frame_bgr, [box], [b for b in self._boxes if b is not box])
        if share < RELIABLE_BACKGROUND and self._scene is not None:
            gains = self._scene
        else:
            gains = balance(px) if share >= MIN_BACKGROUND else np.ones(3, np.float32)
            if share >= RELIABLE_BACKGROUND:
                self._scene = gains
        self._light.append((box.copy(), gains, self._frames))
        return gains

    def cut(self, frame_bgr: np.ndarray, face: Face, points: np.ndarray | None = None) -> SkinCrop:
        """points: the face's mesh where it has one (regions on the mesh); else keypoint patches,
        pooled over the face and its mirror image when the detector placed them."""
        gains = self.gains(frame_bgr, face)
        if points is None and self.detector is not None and face.keypoints_from == "detector":
            face = mirror_pooled(self.detector, frame_bgr, face)
        return cut(frame_bgr, face, gains, points)

    @staticmethod
    def read(crop: SkinCrop, mask: bool = False, sunglasses: bool = False) -> float | None:
        """The face's tone index, from the regions a mask or sunglasses leave bare; None if no skin
        is visible there."""
        sample = measure(crop, patches_for(mask, sunglasses))
        return None if sample is None else humble(sample)
