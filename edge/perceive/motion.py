"""Live motion: continuous face signals from the landmark mesh, per person and per frame.

The expression class changes a few times a minute; these signals move every frame, so the emoticon
blinks, talks and tilts with the person. Three steps, each for a reason:

1. `measure`: geometry of the 468 mesh points, every length divided by the distance between the
   outer eye corners (3-D, so a turned head keeps its scale), angles in degrees. Eye openness also
   looks at the pixels: the mesh predicts plausible open eyes even over a closed or hidden eye,
   while an open eye always shows dark iris and lashes inside its contour and a closed one shows lid.
2. `Baseline`: people differ at rest (narrow eyes, a resting smile, a camera mounted low), so each
   signal is read against a short per-person baseline - a robust percentile over the last ~10 s,
   held near a population prior so that a smile held for ten seconds does not become "rest".
3. `OneEuro`: jitter is removed with a filter whose cut-off rises with speed, so a 120 ms blink passes
   whole while the still face does not shimmer (a plain average would smear the blink away).

Units of `Motion` (state.py) are documented there; a still image (`analyze`) is read against the
population prior alone.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, fields

import cv2
import numpy as np

from edge.state import Motion, is_due

# Mesh indices (MediaPipe face mesh topology). "right" = the person's own right (image left).
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_EYE_LIDS = ((159, 145), (158, 153), (160, 144))  # upper, lower pairs
LEFT_EYE_LIDS = ((386, 374), (385, 380), (387, 373))
RIGHT_EYE_CORNERS, LEFT_EYE_CORNERS = (33, 133), (263, 362)  # outer, inner
RIGHT_BROW, LEFT_BROW = (70, 63, 105, 66, 107), (300, 293, 334, 296, 336)
MOUTH_CORNERS = (61, 291)  # person's right, left
LIP_INNER = (13, 14)  # upper, lower
CHEEKS = (234, 454)  # right, left face edge at cheek height
SKIN_PATCHES = (50, 280)  # mid-cheeks, for the skin brightness the eye pixels are compared with
FOREHEAD, CHIN = 10, 152
DARK = 0.6  # an eye pixel darker than this share of the cheek's brightness is iris, pupil or lash
UNSEEN = -1.0  # eye_dark of an eye outside the frame: its pixels say nothing, the lids decide


@dataclass
class Measure:
    """Raw geometry of one face in one frame; lengths are in inter-ocular distances (iod)."""

    eye_ratio_r: float  # eye opening height / eye width (~0.25 open, ~0.1 closed)
    eye_ratio_l: float
    eye_dark_r: float  # share of dark pixels inside the eye contour (~0.5-0.9 open, ~0 closed; UNSEEN)
    eye_dark_l: float
    mouth_gap: float  # inner lips apart, iod
    mouth_width: float  # corner to corner, iod
    smile: float  # mouth corners above the lip centre, iod
    brow: float  # brow above the eye centre, iod
    roll_deg: float  # + = tipped toward the person's own right shoulder
    yaw_deg: float  # + = turned to the person's own right
    pitch_deg: float  # + = chin up


_PAIRS = np.array(RIGHT_EYE_LIDS + (RIGHT_EYE_CORNERS,) + LEFT_EYE_LIDS + (LEFT_EYE_CORNERS,) + (LIP_INNER, MOUTH_CORNERS))
_READ = np.array(RIGHT_EYE + LEFT_EYE + SKIN_PATCHES)  # the points whose pixels are read


def _patch_radius(iod: float) -> int:
    return max(1, int(round(0.08 * iod)))


def _dark_share(grey: np.ndarray, poly: np.ndarray, skin: float) -> float:
    """Share of dark pixels inside the eye contour; UNSEEN when the eye is mostly off the frame."""
    x0, y0 = np.floor(poly.min(0)).astype(int)
    x1, y1 = np.ceil(poly.max(0)).astype(int) + 1
    full = max(1, (x1 - x0) * (y1 - y0))
    h, w = grey.shape
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 2 or y1 - y0 < 2 or (x1 - x0) * (y1 - y0) < full / 2:
        return UNSEEN
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round(poly - (x0, y0)).astype(np.int32)], 1)
    inside = grey[y0:y1, x0:x1][mask > 0]
    return float((inside < DARK * skin).mean()) if inside.size else 0.0


def _skin_brightness(grey: np.ndarray, p: np.ndarray, r: int) -> float:
    h, w = grey.shape
    values = []
    for i in SKIN_PATCHES:
        x, y = int(round(p[i, 0])), int(round(p[i, 1]))
        patch = grey[max(0, y - r):min(h, y + r + 1), max(0, x - r):min(w, x + r + 1)]
        values.append(patch.ravel())
    v = np.concatenate(values) if values else np.empty(0)
    return float(np.median(v)) if v.size else 128.0


def _face_grey(frame_bgr: np.ndarray, xy: np.ndarray, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """Grey pixels of the part of the frame the eyes and the skin patches cover (margin px around
    them), and all the points in its coordinates: converting the whole frame, or the whole face, for
    every face and frame would cost more than the signals do."""
    h, w = frame_bgr.shape[:2]
    read = xy[_READ]
    x0, y0 = np.clip(np.floor(read.min(0)).astype(int) - margin, 0, (w, h))
    x1, y1 = np.clip(np.ceil(read.max(0)).astype(int) + margin + 1, 0, (w, h))
    region = frame_bgr[y0:y1, x0:x1]
    if region.size == 0:  # the whole face off the frame: no pixels to read
        return np.zeros((1, 1), np.uint8), xy - (x0, y0)
    grey = region if region.ndim == 2 else cv2.cvtColor(region, cv2.COLOR_BGR2GRAY)
    return grey, xy - (x0, y0)


def measure(points: np.ndarray, frame_bgr: np.ndarray) -> Measure:
    """Geometry and eye pixels of one face; `points` is the (468, 3) mesh in frame pixels."""
    p = points.astype(np.float64)
    iod = float(np.linalg.norm(p[LEFT_EYE_CORNERS[0]] - p[RIGHT_EYE_CORNERS[0]]))
    iod = max(iod, 1e-6)
    # roll from the eye line in the raw frame: image y grows down, so tipping toward one's own right
    # (the image's left) turns the line counter-clockwise on the image, a negative atan2
    (rx, ry), (lx, ly) = p[RIGHT_EYE_CORNERS[0], :2], p[LEFT_EYE_CORNERS[0], :2]
    roll = math.atan2(ly - ry, lx - rx)
    c, s = math.cos(-roll), math.sin(-roll)
    centre = p[:, :2].mean(0)
    up = p.copy()  # the face turned upright, so "above" means above on the face
    up[:, :2] = (p[:, :2] - centre) @ np.array([[c, s], [-s, c]]) + centre

    # every length at once: per eye three lid gaps and the corners, then the inner lips and mouth corners
    d = np.linalg.norm(up[_PAIRS[:, 0], :2] - up[_PAIRS[:, 1], :2], axis=1)
    ratio_r, ratio_l = (float(d[k:k + 3].mean() / max(d[k + 3], 1e-6)) for k in (0, 4))

    lip_y = (up[LIP_INNER[0], 1] + up[LIP_INNER[1], 1]) / 2
    eye_y_r = up[[RIGHT_EYE_LIDS[0][0], RIGHT_EYE_LIDS[0][1]], 1].mean()
    eye_y_l = up[[LEFT_EYE_LIDS[0][0], LEFT_EYE_LIDS[0][1]], 1].mean()
    brow = ((eye_y_r - up[list(RIGHT_BROW), 1].mean()) + (eye_y_l - up[list(LEFT_BROW), 1].mean())) / 2
    (zr, zl), (xr, xl) = up[list(CHEEKS), 2], up[list(CHEEKS), 0]
    yaw = -math.atan2(zl - zr, xl - xr)  # the left cheek nearer the camera = turned to one's right
    pitch = -math.atan2(up[CHIN, 2] - up[FOREHEAD, 2], up[CHIN, 1] - up[FOREHEAD, 1])

    r = _patch_radius(iod)
    grey, xy = _face_grey(frame_bgr, p[:, :2], r + 1)
    skin = _skin_brightness(grey, xy, r)
    return Measure(
        eye_ratio_r=ratio_r,
        eye_ratio_l=ratio_l,
        eye_dark_r=_dark_share(grey, xy[list(RIGHT_EYE)], skin),
        eye_dark_l=_dark_share(grey, xy[list(LEFT_EYE)], skin),
        mouth_gap=float(d[8]) / iod,
        mouth_width=float(d[9]) / iod,
        smile=float(lip_y - up[list(MOUTH_CORNERS), 1].mean()) / iod,
        brow=float(brow) / iod,
        roll_deg=-math.degrees(roll),
        yaw_deg=math.degrees(yaw),
        pitch_deg=math.degrees(pitch),
    )


# ------------------------------------------------------------------------------------------ baseline


@dataclass(frozen=True)
class Rest:
    """A face at rest, in `Measure` units. PRIOR is the population's; `Baseline` moves it toward one
    person, within LIMITS of the prior."""

    eye_ratio: float = 0.245
    eye_dark: float = 0.45
    mouth_gap: float = 0.02
    mouth_width: float = 0.56
    smile: float = 0.022
    brow: float = 0.18
    pitch_deg: float = -11.0


# Medians of 297 unmasked, unspectacled face-attribute training photos (eye_dark: its 25th percentile,
# so that most open eyes count as fully seen); the limits span their 10th to 90th percentiles.
PRIOR = Rest()
LIMITS = Rest(eye_ratio=0.07, eye_dark=0.3, mouth_gap=0.06, mouth_width=0.12, smile=0.05, brow=0.05, pitch_deg=15.0)
EYE_CLOSED_RATIO = 0.08  # below this height/width ratio the mesh draws a closed eye
MOUTH_WIDE_OPEN = 0.55  # lips apart by this many iod above rest reads as fully open
SPANS = {"mouth_width": 0.2, "smile": 0.08, "brow": 0.06}  # the change in iod that reads as 1.0
BASELINE_EVERY_S = 0.1
BASELINE_SAMPLES = 100  # ~10 s
BASELINE_MIN = 10  # samples before the personal baseline counts at all
BASELINE_REFIT = 10  # samples between estimates: a rest face drifts over seconds, and seven percentiles
                     # per face and frame cost a group more than its smoothing


class Baseline:
    """Robust per-person rest values: upper percentiles for eyes (blinks are brief), a lower one for
    the mouth gap (talking is intermittent), medians for the rest."""

    def __init__(self) -> None:
        self._samples: deque[Measure] = deque(maxlen=BASELINE_SAMPLES)
        self._last_t = -math.inf
        self._added = 0
        self.rest = PRIOR

    def add(self, m: Measure, t: float) -> Rest:
        if is_due(t - self._last_t, BASELINE_EVERY_S):
            self._last_t = t
            self._samples.append(m)
            self._added += 1
            if len(self._samples) >= BASELINE_MIN and (len(self._samples) == BASELINE_MIN
                                                       or self._added % BASELINE_REFIT == 0):
                self.rest = self._estimate()
        return self.rest

    def _estimate(self) -> Rest:
        a = {f.name: np.array([getattr(m, f.name) for m in self._samples]) for f in fields(Measure)}
        eyes = np.concatenate([a["eye_ratio_r"], a["eye_ratio_l"]])
        dark = np.concatenate([a["eye_dark_r"], a["eye_dark_l"]])
        dark = dark[dark >= 0] if (dark >= 0).any() else np.array([PRIOR.eye_dark])
        raw = Rest(
            eye_ratio=float(np.percentile(eyes, 75)), eye_dark=float(np.percentile(dark, 75)),
            mouth_gap=float(np.percentile(a["mouth_gap"], 25)), mouth_width=float(np.median(a["mouth_width"])),
            smile=float(np.median(a["smile"])), brow=float(np.median(a["brow"])),
            pitch_deg=float(np.median(a["pitch_deg"])),
        )
        return Rest(**{f.name: float(np.clip(getattr(raw, f.name), getattr(PRIOR, f.name) - getattr(LIMITS, f.name),
                                             getattr(PRIOR, f.name) + getattr(LIMITS, f.name)))
                       for f in fields(Rest)})


def _eye_open(ratio: float, dark: float, rest: Rest) -> float:
    """Both cues must say open: the mesh's lids (geometry) and the iris showing (pixels)."""
    geometric = (ratio - EYE_CLOSED_RATIO) / max(rest.eye_ratio - EYE_CLOSED_RATIO, 1e-3)
    seen = dark / max(min(rest.eye_dark, PRIOR.eye_dark), 0.05)
    # a fully visible iris (or an eye off the frame) leaves the lids to say how open
    cap = seen if 0.0 <= seen < 1.0 else math.inf
    return float(np.clip(min(geometric, cap), 0.0, 1.5))


def to_motion(m: Measure, rest: Rest = PRIOR) -> Motion:
    """Signals against a rest face; every value is clipped to its documented range."""
    def span(name: str, value: float) -> float:
        return float(np.clip((value - getattr(rest, name)) / SPANS[name], -1.0, 1.0))

    return Motion(
        eye_open_right=_eye_open(m.eye_ratio_r, m.eye_dark_r, rest),
        eye_open_left=_eye_open(m.eye_ratio_l, m.eye_dark_l, rest),
        mouth_open=float(np.clip((m.mouth_gap - rest.mouth_gap) / MOUTH_WIDE_OPEN, 0.0, 1.0)),
        mouth_width=span("mouth_width", m.mouth_width),
        smile=span("smile", m.smile),
        brow_raise=span("brow", m.brow),
        roll_deg=float(np.clip(m.roll_deg, -90.0, 90.0)),
        yaw_deg=float(np.clip(m.yaw_deg, -90.0, 90.0)),
        pitch_deg=float(np.clip(m.pitch_deg - rest.pitch_deg, -90.0, 90.0)),
    )


# ------------------------------------------------------------------------------------------ filter


class OneEuro:
    """Casiez et al.'s 1-euro filter: a low-pass whose cut-off grows with the signal's speed."""

    def __init__(self, min_cutoff: float, beta: float, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x: float | None = None
        self._dx = 0.0
        self._t = 0.0

    @staticmethod
    def _alpha(cutoff: float, dt: float) -> float:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: float, t: float) -> float:
        if self._x is None or t <= self._t:
            if self._x is None:
                self._x, self._t = x, t
            return self._x
        dt = t - self._t
        self._t = t
        dx = (x - self._x) / dt
        self._dx += self._alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * abs(self._dx)
        self._x += self._alpha(cutoff, dt) * (x - self._x)
        return self._x


# (min_cutoff Hz, beta per unit/s): eyes react fastest (blinks), angles are in degrees
FILTERS = {
    "eye_open_right": (1.5, 0.6), "eye_open_left": (1.5, 0.6), "mouth_open": (2.0, 0.6),
    "mouth_width": (1.0, 0.3), "smile": (1.0, 0.3), "brow_raise": (1.0, 0.4),
    "roll_deg": (1.0, 0.02), "yaw_deg": (1.0, 0.02), "pitch_deg": (1.0, 0.02),
}


class MotionTrack:
    """One person's motion over time: baseline, then the filter, per signal."""

    def __init__(self) -> None:
        self.baseline = Baseline()
        self._filters = {name: OneEuro(*params) for name, params in FILTERS.items()}
        self.motion: Motion | None = None

    def update(self, m: Measure, t: float) -> Motion:
        raw = to_motion(m, self.baseline.add(m, t))
        self.motion = Motion(**{f.name: self._filters[f.name](getattr(raw, f.name), t) for f in fields(Motion)})
        return self.motion
