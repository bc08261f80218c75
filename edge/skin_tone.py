"""Skin tone, measured from skin colour: never a classifier of race or ethnicity.

Cheek and forehead patches are placed with the detector's keypoints; what is not skin there (a
mask, sunglasses, beard, hair, specular highlights) is dropped by a colour test and robust
statistics; the frame's white balance and exposure are corrected (grey world); the median skin
colour goes to CIELAB and its Individual Typology Angle, ITA = atan((L* - 50) / b*), picks one of
the five emoji skin-tone modifiers. The original project's CNN called bearded faces "black"; a
colour measurement cannot make that mistake, and it says how sure it is through soft band scores.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge.state import SKIN_TONES, Face

# ITA band edges in degrees, lightest first, after Chardon et al. (1991): very light > 55,
# light 41-55, intermediate 28-41, tan 10-28, brown and dark < 10 (merged: emoji have five tones).
ITA_EDGES = (55.0, 41.0, 28.0, 10.0)
BAND_SOFTNESS = 6.0  # degrees: how quickly band scores fall off past an edge
MIN_SKIN_PIXELS = 12
MAX_GAIN = (0.6, 1.7)
WHITE_LEVEL = 225.0
# The scene must show enough of itself outside the faces (each widened by FACE_MARGIN) to judge its
# light. A close-up is mostly face, hair and collar: "balancing" it pulls the skin itself toward grey,
# b* collapses and ITA swings to +-90 degrees (measured: on the face-attribute close-ups it read 61
# of 298 "black"-labelled photos as "light"). There the camera's own balance is kept.
MIN_BACKGROUND = 0.25
FACE_MARGIN = 0.25


@dataclass
class SkinSample:
    ita: float
    lab: tuple[float, float, float]
    pixels: int  # skin pixels the median came from


def white_balance_gains(frame_bgr: np.ndarray, exclude: list[np.ndarray] | None = None) -> np.ndarray:
    """Per-channel gains (B, G, R) that make the scene's neutral surfaces mid-grey.

    Plain grey world fails on a booth with one strongly coloured thing in view (an orange jacket
    turns every face green), so only pixels that are nearly grey under the current estimate vote,
    refined three times. Faces are left out, as are clipped and near-black pixels; a frame that is
    mostly face keeps gains of 1 (see MIN_BACKGROUND).
    """
    small = cv2.resize(frame_bgr, (80, 60), interpolation=cv2.INTER_AREA).astype(np.float32).reshape(60, 80, 3)
    keep = np.ones((60, 80), bool)
    h, w = frame_bgr.shape[:2]
    for box in exclude or []:
        mx, my = FACE_MARGIN * box[2], FACE_MARGIN * box[3]
        x0, y0 = int(max(0, box[0] - mx) * 80 / w), int(max(0, box[1] - my) * 60 / h)
        x1 = int(math.ceil((box[0] + box[2] + mx) * 80 / w))
        y1 = int(math.ceil((box[1] + box[3] + my) * 60 / h))
        keep[y0:y1, x0:x1] = False
    if keep.mean() < MIN_BACKGROUND:
        return np.ones(3, np.float32)
    px = small[keep & (small.max(axis=2) < 250) & (small.min(axis=2) > 10)]
    if len(px) < 30:
        return np.ones(3, np.float32)
    gains = np.ones(3, np.float32)
    for _ in range(3):
        balanced = px * gains
        sat = (balanced.max(axis=1) - balanced.min(axis=1)) / np.maximum(balanced.max(axis=1), 1)
        neutral = px[sat < 0.25]
        if len(neutral) < 30:
            neutral = px[np.argsort(sat)[:30]]
        means = neutral.mean(axis=0)
        gains = means.mean() / np.maximum(means, 1.0)
    # Exposure: ITA swings wildly near L* = 50, so skin is measured relative to the scene's bright
    # neutral surfaces (white patch: walls, shirts, paper), mapped to WHITE_LEVEL.
    gains /= float(gains @ np.array([0.114, 0.587, 0.299], np.float32))
    white = float(np.percentile((neutral * gains).mean(axis=1), 90))
    exposure = np.clip(WHITE_LEVEL / max(white, 1.0), *MAX_GAIN)
    return (gains * exposure).astype(np.float32)


def patch_centres(face: Face) -> list[tuple[float, float, float]]:
    """(x, y, radius) of both cheeks and the forehead, in frame pixels, following head roll."""
    right_eye, left_eye, nose, mouth = (face.keypoints[i].astype(np.float64) for i in range(4))
    eyes = (right_eye + left_eye) / 2
    span = left_eye - right_eye
    d = max(float(np.hypot(*span)), 4.0)
    across = span / d
    down = np.array([-across[1], across[0]])
    if np.dot(down, mouth - eyes) < 0:  # keypoints upside down would flip it
        down = -down
    r = 0.16 * d
    return [
        (*(right_eye + 0.55 * d * down - 0.05 * d * across), r),
        (*(left_eye + 0.55 * d * down + 0.05 * d * across), r),
        (*(eyes - 0.45 * d * down), r * 1.2),
    ]


def skin_pixels(frame_bgr: np.ndarray, face: Face, gains: np.ndarray) -> np.ndarray:
    """White-balanced BGR float pixels (N, 3) from the patches that pass the skin colour test."""
    h, w = frame_bgr.shape[:2]
    chunks = []
    for cx, cy, r in patch_centres(face):
        x0, x1 = int(max(0, cx - r)), int(min(w, cx + r + 1))
        y0, y1 = int(max(0, cy - r)), int(min(h, cy + r + 1))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        patch = frame_bgr[y0:y1, x0:x1].astype(np.float32) * gains
        chunks.append(np.clip(patch, 0, 255).reshape(-1, 3))
    if not chunks:
        return np.zeros((0, 3), np.float32)
    px = np.concatenate(chunks)
    ycrcb = cv2.cvtColor(px.astype(np.uint8)[None], cv2.COLOR_BGR2YCrCb)[0].astype(np.float32)
    y, cr, cb = ycrcb[:, 0], ycrcb[:, 1], ycrcb[:, 2]
    # a wide skin locus in CrCb (all skin tones share it; masks, lenses, hair and walls mostly do not)
    skin = (cr >= 133) & (cr <= 180) & (cb >= 72) & (cb <= 130) & (y > 15) & (y < 245)
    px = px[skin]
    if len(px) >= MIN_SKIN_PIXELS:
        # robust: drop the darkest (beard stubble, shadow) and brightest (highlights) fifths
        lum = px.mean(axis=1)
        lo, hi = np.percentile(lum, [20, 80])
        px = px[(lum >= lo) & (lum <= hi)]
    return px


def measure(frame_bgr: np.ndarray, face: Face, gains: np.ndarray) -> SkinSample | None:
    px = skin_pixels(frame_bgr, face, gains)
    if len(px) < MIN_SKIN_PIXELS // 2:
        return None
    bgr = np.median(px, axis=0).astype(np.float32)[None, None] / 255.0
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2Lab)[0, 0]  # float input: L in 0..100, a/b unscaled
    lightness, b_star = float(lab[0]), float(lab[2])
    ita = math.degrees(math.atan2(lightness - 50.0, max(b_star, 1e-3)))
    return SkinSample(ita, (lightness, float(lab[1]), b_star), len(px))


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
    """The 'skin_tone' head: per frame white balance, per face a measured ITA (scored by band_scores)."""

    name = "skin_tone"
    classes = list(SKIN_TONES)

    WB_EVERY = 15  # frames: the light in a room changes over seconds, not frames

    def __init__(self) -> None:
        self._gains = np.ones(3, np.float32)
        self._frames = 0

    def begin_frame(self, frame_bgr: np.ndarray, faces: list[Face], fresh: bool = False) -> None:
        """fresh: an unrelated picture (still photos), whose light says nothing about the last one."""
        if fresh or self._frames % self.WB_EVERY == 0:
            self._gains = white_balance_gains(frame_bgr, [f.box for f in faces])
        self._frames += 1

    def measure(self, frame_bgr: np.ndarray, face: Face) -> float | None:
        """The face's ITA in degrees under this frame's white balance; None if no skin is visible."""
        sample = measure(frame_bgr, face, self._gains)
        return None if sample is None else sample.ita
