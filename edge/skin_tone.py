"""Skin tone, measured from skin colour: never a classifier of race or ethnicity.

Cheek, forehead and nose-bridge patches are placed with the detector's keypoints and read at a
fixed eye distance, only those a mask or sunglasses (the attribute model's answer) leave bare; what
is not skin there (beard, hair, a frame, specular highlights) is dropped by a colour test and robust
statistics, and skin the camera clipped gets its colour back from the
unclipped skin; white balance and exposure are corrected from the face's own surroundings (the
near-grey pixels vote on its colour, the brightest tenth sets the exposure), so the answer does not depend on where the
face stands in the frame, how large it is, or who stands next to it (issue 23); the median skin
colour goes to CIELAB and its Individual Typology Angle, ITA = atan((L* - 50) / b*), picks one of
the five emoji skin-tone modifiers. The colour goes to CIELAB unclipped: white-balanced skin brighter
than the camera's range keeps its hue instead of turning white (ITA 90). The original project's CNN called bearded faces "black"; a
colour measurement cannot make that mistake, and it says how sure it is through soft band scores.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge.crop import warp
from edge.detect import BlazeFaceDetector, mirror_pooled
from edge.state import SKIN_TONES, Face

# ITA band edges in degrees, lightest first, after Chardon et al. (1991): very light > 55,
# light 41-55, intermediate 28-41, tan 10-28, brown and dark < 10 (merged: emoji have five tones).
ITA_EDGES = (55.0, 41.0, 28.0, 10.0)
BAND_SOFTNESS = 6.0  # degrees: how quickly band scores fall off past an edge
MIN_SKIN_PIXELS = 12
MAX_GAIN = (0.5, 2.6)  # wide enough to undo x0.7 .. x1.3 exposure of a mid-grey scene
# Exposure: the surroundings' WHITE_PERCENTILE brightness (all of its pixels, after white balance) is
# set to WHITE_LEVEL. All pixels, not only the near-grey ones: which pixels look grey changes with
# a colour cast and with exposure (dark navy crosses the black cut-off), and the few white ones
# (a collar, a cap) clip first, so the grey-only 90th percentile moved Grace Hopper's tone 14 degrees
# between x0.7 and x1.3; over all pixels it scales with the exposure (issue 23).
WHITE_PERCENTILE = 90
WHITE_LEVEL = 190.0
# The light a face is measured under is read from its own surroundings: the square LIGHT_RING face
# widths wide around it, the faces themselves (each widened by FACE_MARGIN) left out, sampled at
# RING_PX x RING_PX whatever the face's size. The whole frame was used before, so the answer
# depended on how much of the frame the person filled and on what stood elsewhere in the room:
# the astronaut read "light" at 190 px and down to "medium-light" at 90 px on a grey wall, two
# bands apart under a warm lamp (issue 23).
LIGHT_RING = 2.0  # 2.4 before: a large face's square lay partly off the frame, so its light depended on where it stood
RING_PX = 48
FACE_MARGIN = 0.25
# A close-up is mostly face, hair and collar: "balancing" it pulls the skin itself toward grey, b*
# collapses and ITA swings to +-90 degrees (measured: on the face-attribute close-ups it read 61 of
# 298 "black"-labelled photos as "light"). When less than this share of the ring is usable scene,
# the camera's own balance is kept.
MIN_BACKGROUND = 0.10
# Below this share the reading is still made, but it rests on a few pixels beside the face (a navy
# uniform, a flag): Grace Hopper read 50 degrees at 320 px and anything from -65 to 43 at 340-480 px.
# In the live loop a face with less usable surroundings than this is read under the room's light as
# last measured around anybody with more (SkinToneMeter): a visitor who walks up to the screen keeps
# the light seen while they approached.
RELIABLE_BACKGROUND = 0.25
# Skin is measured on the face resampled to a fixed eye distance (area-averaged when shrinking),
# so a 60 px face and a 300 px face give the median of the same patches at the same smoothing.
CANON_EYES = 40.0
CANON_PX = 80  # the patches lie within 0.8 eye distances of the eyes
PATCH_RADIUS = 0.28  # eye distances; 0.16 before: 4.2 -> 3.2 degrees of ITA spread over sizes and places
# Of the skin pixels, the median of those between these luminance percentiles is measured: the dark
# part of a cheek patch is shadow, stubble and a lens rim, whose share moves with the patch; the
# top tenth is highlight (20-80 before; 40-90 steadied 5 of 21 faces, issue 23).
SKIN_LUMA = (40, 90)
SATURATED = 250  # a channel this bright was clipped by the camera: its value is a lower bound
START_PERCENTILE = 95  # where the white balance's search for grey starts (white_balance_gains); 99: the same


@dataclass
class SkinSample:
    ita: float
    lab: tuple[float, float, float]
    pixels: int  # skin pixels the median came from


def _grid_in_frame(m: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame coordinates (x, y) of every pixel of a size x size canvas made with the axis-aligned m."""
    u = np.arange(size, dtype=np.float32)
    xs, ys = (u - m[0, 2]) / m[0, 0], (u - m[1, 2]) / m[1, 1]
    return np.meshgrid(xs, ys)


def _ring_pixels(frame_bgr: np.ndarray, box: np.ndarray, cut: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Pixels of the square around one face at a fixed sampling, minus the frame's outside and
    every face in `cut`; and which share of the square they are."""
    side = LIGHT_RING * float(max(box[2], box[3], 1.0))
    k = RING_PX / side
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    m = np.array([[k, 0, RING_PX / 2 - k * cx], [0, k, RING_PX / 2 - k * cy]], np.float32)
    canvas = warp(frame_bgr, m, (RING_PX, RING_PX)).astype(np.float32)
    xs, ys = _grid_in_frame(m, RING_PX)
    h, w = frame_bgr.shape[:2]
    keep = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
    for b in cut:
        mx, my = FACE_MARGIN * b[2], FACE_MARGIN * b[3]
        keep &= ~((xs > b[0] - mx) & (xs < b[0] + b[2] + mx) & (ys > b[1] - my) & (ys < b[1] + b[3] + my))
    return canvas[keep], float(keep.mean())


def white_balance_gains(frame_bgr: np.ndarray, exclude: list[np.ndarray] | None = None,
                        others: list[np.ndarray] | tuple = ()) -> np.ndarray:
    """Per-channel gains (B, G, R) that make the neutral surfaces around the faces in `exclude`
    mid-grey and their WHITE_PERCENTILE brightness WHITE_LEVEL; with no face, the whole frame's. `others`:
    further faces, cut out of the surroundings but not measured around.

    Plain grey world fails on a booth with one strongly coloured thing in view (an orange jacket
    turns every face green), so only pixels that are nearly grey under the current estimate vote,
    refined three times. Clipped and near-black pixels do not vote; surroundings with too little
    scene in them keep gains of 1 (see MIN_BACKGROUND).
    """
    px, share = _surroundings(frame_bgr, exclude, others)
    return _balance(px) if share >= MIN_BACKGROUND else np.ones(3, np.float32)


def _surroundings(frame_bgr: np.ndarray, exclude: list[np.ndarray] | None,
                  others: list[np.ndarray] | tuple = ()) -> tuple[np.ndarray, float]:
    """The pixels the light is read from (around the faces in `exclude`, all of them cut out; the
    whole frame with no face), and the mean share of each face's square they fill."""
    if not exclude:
        return cv2.resize(frame_bgr, (80, 60), interpolation=cv2.INTER_AREA).astype(np.float32).reshape(-1, 3), 1.0
    cut = [*exclude, *others]
    parts = [_ring_pixels(frame_bgr, box, cut) for box in exclude]
    return np.concatenate([p for p, _ in parts]), sum(share for _, share in parts) / len(parts)


def _balance(px: np.ndarray) -> np.ndarray:
    """The gains (colour and exposure) that the surroundings' pixels `px` call for."""
    scene = px  # every pixel has a brightness, clipped and dark ones too
    px = px[(px.max(axis=1) < SATURATED) & (px.min(axis=1) > 10)]  # clipped or black: no colour
    if len(px) < 30:
        return np.ones(3, np.float32)
    # Dark pixels' colour is mostly noise and the colour of dark things (a navy suit under a warm
    # lamp looks grey): only the brighter half of the surroundings votes on the light's colour.
    px = px[px.mean(axis=1) >= np.median(px.mean(axis=1))]
    # The search for grey starts from the colour of the brightest surfaces (each channel's
    # START_PERCENTILE: a collar, a cap, a lit wall are nearly white), which moves with the light,
    # not from gains of 1, which assume the camera balanced already: under a warm lamp the search
    # from 1 settled on Grace Hopper's light-blue backdrop, which looks grey there, and doubled the
    # cast (her skin read two bands apart between a warm and a cool lamp; issue 23).
    top = np.percentile(px, START_PERCENTILE, axis=0)
    gains = (top.mean() / np.maximum(top, 1.0)).astype(np.float32)
    for _ in range(3):
        balanced = px * gains
        sat = (balanced.max(axis=1) - balanced.min(axis=1)) / np.maximum(balanced.max(axis=1), 1)
        neutral = px[sat < 0.25]
        if len(neutral) < 30:
            neutral = px[np.argsort(sat)[:30]]
        means = neutral.mean(axis=0)
        gains = means.mean() / np.maximum(means, 1.0)
    # Exposure: ITA swings wildly near L* = 50, so skin is measured relative to the bright part of
    # the surroundings (see WHITE_PERCENTILE).
    gains /= float(gains @ np.array([0.114, 0.587, 0.299], np.float32))
    white = float(np.percentile((scene * gains).mean(axis=1), WHITE_PERCENTILE))
    exposure = np.clip(WHITE_LEVEL / max(white, 1.0), *MAX_GAIN)
    return (gains * exposure).astype(np.float32)


# Where skin is read, in eye distances d from the eyes ("down" toward the mouth, "out" away from
# the nose) and radii in PATCH_RADIUS. Which patches are read depends on what covers the face: the
# cheeks lie under a mask and partly under sunglasses, whose lenses and frame then passed the skin
# colour test in some frames and not in others (a face in sunglasses 0.61 of variants one tone,
# half of its mirror images another; masked faces 0.58), so a masked face is read on the forehead
# and the bridge of the nose, a face in sunglasses on the forehead alone (issue 23). Patches under
# the eyes as well steadied one masked face and unsteadied another, and read a mask whose top edge
# sits high (tests/test_skin_tone.py): not kept.
PATCHES: dict[str, tuple[str, float, float, float]] = {  # name: (from, down, out, radius factor)
    "right_cheek": ("right_eye", 0.55, 0.05, 1.0),
    "left_cheek": ("left_eye", 0.55, 0.05, 1.0),
    "forehead": ("eyes", -0.45, 0.0, 1.2),
    "nose_bridge": ("eyes", 0.08, 0.0, 0.7),  # above where a mask's top edge sits
}
OPEN = ("right_cheek", "left_cheek", "forehead")
MASKED = ("forehead", "nose_bridge")
SUNGLASSES = ("forehead",)


def patches_for(mask: bool, sunglasses: bool) -> tuple[str, ...]:
    """The patches where skin shows, given what the attribute model says the face wears."""
    return SUNGLASSES if sunglasses else MASKED if mask else OPEN


def patch_centres(face: Face) -> dict[str, tuple[float, float, float]]:
    """(x, y, radius) of every patch in PATCHES, in frame pixels, following head roll.

    The patches are wide (PATCH_RADIUS): the detector's eye keypoints move by a few pixels between
    frames and sizes, and small patches then read a different mix of cheek, shadow and lens rim."""
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
    for name, (origin, along, outward, radius) in PATCHES.items():
        at, away = points[origin]
        out[name] = (*(at + along * d * down + outward * d * away), PATCH_RADIUS * d * radius)
    return out


@dataclass
class SkinCrop:
    """What the crop stage cuts for the skin tone: the face resampled to CANON_EYES between the
    eyes, the light it stands in, and where each patch inside the frame falls on it. Which patches
    are read is decided later, once the attribute model has said whether a mask or sunglasses
    cover some of them."""

    canvas: np.ndarray  # CANON_PX x CANON_PX BGR, float32
    gains: np.ndarray
    patches: dict[str, tuple[int, int, int, int]]  # name -> (y0, y1, x0, x1) on the canvas


def cut(frame_bgr: np.ndarray, face: Face, gains: np.ndarray) -> SkinCrop:
    h, w = frame_bgr.shape[:2]
    d = max(float(np.hypot(*(face.keypoints[1] - face.keypoints[0]))), 4.0)
    k = CANON_EYES / d
    ex, ey = (face.keypoints[0] + face.keypoints[1]) / 2
    m = np.array([[k, 0, CANON_PX / 2 - k * ex], [0, k, CANON_PX / 2 - k * ey]], np.float32)
    canvas = warp(frame_bgr, m, (CANON_PX, CANON_PX)).astype(np.float32)
    patches = {}
    for name, (cx, cy, r) in patch_centres(face).items():
        if not (0 <= cx < w and 0 <= cy < h):
            continue  # a patch off the frame would read the repeated border
        u, v, rk = cx * k + m[0, 2], cy * k + m[1, 2], r * k
        x0, x1 = int(max(0, round(u - rk))), int(min(CANON_PX, round(u + rk) + 1))
        y0, y1 = int(max(0, round(v - rk))), int(min(CANON_PX, round(v + rk) + 1))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            patches[name] = (y0, y1, x0, x1)
    return SkinCrop(canvas, gains, patches)


def _skin_locus(px: np.ndarray) -> np.ndarray:
    """A wide skin locus in CrCb (all skin tones share it; masks, lenses, hair and walls mostly do
    not), on OpenCV's YCrCb computed in float, so balanced skin brighter than 255 is not clipped."""
    b, g, r = px[:, 0], px[:, 1], px[:, 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cr, cb = (r - y) * 0.713 + 128, (b - y) * 0.564 + 128
    return (cr >= 133) & (cr <= 180) & (cb >= 72) & (cb <= 130) & (y > 15)


def _unclip(raw: np.ndarray, gains: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Skin the camera clipped, with its clipped red (and green) re-estimated from the unclipped
    skin's own R/G and G/B ratios. A clipped pixel has lost its colour and falls out of the skin
    locus, which left only the shadowed skin of a brightly lit light face (x1.3 exposure read one
    or two bands darker). Pixels with blue clipped too (white, highlights) stay as they are.
    Returns the pixels and which of them were re-estimated."""
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
    # The ratios come from the brighter half of the unclipped skin (by green, which clips last on
    # skin): the clipped pixels are the brightest skin, and the darker unclipped pixels include
    # lipstick, a red frame and shadow, whose R/G is far higher - on a face in red glasses under an
    # orange light they made the re-estimated skin read two bands apart between x1.0 and x1.3 (issue 23).
    ref = ok & (raw[:, 1] >= np.median(raw[ok, 1]))
    out = raw.copy()
    g_over_b = float(np.median(raw[ref, 1] / raw[ref, 0]))
    r_over_g = float(np.median(raw[ref, 2] / raw[ref, 1]))
    out[fix_g, 1] = np.maximum(out[fix_g, 1], out[fix_g, 0] * g_over_b)
    out[fix_r, 2] = np.maximum(out[fix_r, 2], out[fix_r, 1] * r_over_g)
    return out, fix_g | fix_r


def skin_pixels(crop: SkinCrop, names: tuple[str, ...] = OPEN) -> np.ndarray:
    """White-balanced BGR float pixels (N, 3) from the named patches that pass the skin colour test."""
    chunks = [crop.canvas[y0:y1, x0:x1].reshape(-1, 3)
              for name, (y0, y1, x0, x1) in crop.patches.items() if name in names]
    if not chunks:
        return np.zeros((0, 3), np.float32)
    raw, fixed = _unclip(np.concatenate(chunks), crop.gains)
    px = raw * crop.gains
    px = px[_skin_locus(px) | fixed]  # re-estimated skin may be redder than the locus allows
    if len(px) >= MIN_SKIN_PIXELS:
        lum = px.mean(axis=1)  # robust: see SKIN_LUMA
        lo, hi = np.percentile(lum, SKIN_LUMA)
        px = px[(lum >= lo) & (lum <= hi)]
    return px


def measure(crop: SkinCrop, names: tuple[str, ...] = OPEN) -> SkinSample | None:
    px = skin_pixels(crop, names)
    if len(px) < MIN_SKIN_PIXELS // 2:
        return None
    lightness, a_star, b_star = lab_of(np.median(px, axis=0))
    ita = math.degrees(math.atan2(lightness - 50.0, max(b_star, 1e-3)))
    return SkinSample(ita, (lightness, a_star, b_star), len(px))


_SRGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
                         [0.019334, 0.119193, 0.950227]])
_D65_WHITE = np.array([0.950456, 1.0, 1.088754])


def lab_of(bgr: np.ndarray) -> tuple[float, float, float]:
    """CIELAB (L*, a*, b*) of one BGR colour on the 0..255 scale, values above 255 allowed.

    OpenCV's conversion (same formula) clips at 255 first: skin that the white balance lifted
    past 255 turned white, b* fell to 0 and ITA to 90 degrees, and a face's answer then hung on
    how much of its skin went over (10 of 19 val faces read exactly 90 in the consistency check)."""
    c = np.maximum(np.asarray(bgr, np.float64)[::-1] / 255.0, 0.0)
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    t = (_SRGB_TO_XYZ @ lin) / _D65_WHITE
    f = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    return float(116 * f[1] - 16), float(500 * (f[0] - f[1])), float(200 * (f[1] - f[2]))


def band_scores(ita: float) -> np.ndarray:
    """Soft membership of the five tones (sums to 1): a band's score falls off with the distance
    of the measured ITA from it, so a face near a band edge is split between the two tones."""
    lo_edges = (*ITA_EDGES, -math.inf)
    hi_edges = (math.inf, *ITA_EDGES)
    dist = np.array([max(0.0, lo - ita, ita - hi) for lo, hi in zip(lo_edges, hi_edges)])
    score = np.exp(-((dist + 0.5 * BAND_SOFTNESS) / BAND_SOFTNESS) ** 2)
    return score / score.sum()


def tone_of(ita: float) -> str:
    for tone, edge in zip(SKIN_TONES, ITA_EDGES):
        if ita > edge:
            return tone
    return SKIN_TONES[-1]


class SkinToneMeter:
    """The 'skin_tone' head: per face, a measured ITA (scored by band_scores) under the light of
    that face's own surroundings, so two people in one frame, or one person anywhere in it, are
    each measured the same way."""

    name = "skin_tone"
    classes = list(SKIN_TONES)

    WB_EVERY = 15  # frames: the light around a person changes over seconds, not frames

    def __init__(self, detector: BlazeFaceDetector | None = None, pooled: bool = True) -> None:
        """pooled: the patches placed by keypoints read on the face and on its mirror image
        (`mirror_pooled`, with `detector` or a short-range BlazeFace of its own), so a visitor and
        their mirror image get the same patches; two more detector runs for a face straight from the
        detector (a tracked face's mesh keypoints need none)."""
        self.detector = (detector or BlazeFaceDetector("short", 1)) if pooled else None
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
        """The white balance around this face, re-measured every WB_EVERY frames for a face that
        stayed about where it was (the surroundings are the costly part of the measurement); the
        room's light instead for a face with too little around it (RELIABLE_BACKGROUND)."""
        box = face.box
        for old, gains, _ in self._light:
            if abs(old[0] + old[2] / 2 - box[0] - box[2] / 2) < 0.25 * box[2] and 0.8 < old[2] / box[2] < 1.25:
                return gains
        px, share = _surroundings(frame_bgr, [box], [b for b in self._boxes if b is not box])
        if share < RELIABLE_BACKGROUND and self._scene is not None:
            gains = self._scene
        else:
            gains = _balance(px) if share >= MIN_BACKGROUND else np.ones(3, np.float32)
            if share >= RELIABLE_BACKGROUND:
                self._scene = gains
        self._light.append((box.copy(), gains, self._frames))
        return gains

    def cut(self, frame_bgr: np.ndarray, face: Face) -> SkinCrop:
        """The light is read around the face as detected (the others' boxes are cut out by identity);
        the patches are placed by pooled keypoints where the detector placed them. A tracked face's
        keypoints come from its mesh, which reads a face and its mirror image alike already (eyes
        1.3 px apart at 90-300 px, the skin 0.68 degrees; pooled: 1.6 px, 0.70), at no extra cost."""
        gains = self.gains(frame_bgr, face)
        if self.detector is not None and face.keypoints_from == "detector":
            face = mirror_pooled(self.detector, frame_bgr, face)
        return cut(frame_bgr, face, gains)

    @staticmethod
    def read(crop: SkinCrop, mask: bool = False, sunglasses: bool = False) -> float | None:
        """The face's ITA in degrees, from the patches a mask or sunglasses leave bare; None if no
        skin is visible there."""
        sample = measure(crop, patches_for(mask, sunglasses))
        return None if sample is None else sample.ita
