"""The emoticon as a handful of numbers.

Drawing works only from `FaceParams`, never from the expression name, so that three things share one
path: the eight fixed expressions (a table below), blinks (eye openness), and the live-motion
signals (`with_motion`), which offset fields of the expression's params before drawing.

Units: lengths are fractions of the face radius; most fields are about -1..1 or 0..1 where 0 is
"neutral". Directions are as the viewer sees the emoticon ("left" = left side of the screen).

Live signals (state.Motion) -> params, in `with_motion`: per-eye openness -> eye_open_l / eye_open_r
(blinks, winks), mouth open -> mouth_open, mouth width -> mouth_width, smile -> mouth_curve, brow
raise -> brow_raise, head roll -> head_roll (degrees), yaw -> head_yaw, pitch -> gaze_y. Sides are
as in a mirror: the person's own right eye (at the left of the raw camera frame) drives eye_open_r,
drawn on the viewer's right; turning the head to one's right is a positive head_yaw; tipping the
right ear toward the shoulder is a positive (clockwise as seen) head_roll.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, fields
from functools import lru_cache

from edge.state import Motion

log = logging.getLogger(__name__)

QUANTUM = 0.05  # params are rounded to this before caching, so live signals cannot flood the cache


@dataclass(frozen=True)
class FaceParams:
    """Shape of every feature. Defaults are the neutral face."""

    # Brows: the strongest cue left when a mask or sunglasses hide half the face.
    brow_raise: float = 0.0  # -1 lowered .. +1 raised
    brow_tilt: float = 0.0  # +: inner ends up (sad, fear); -: inner ends down (angry)
    brow_squeeze: float = 0.0  # 0..1: inner ends pulled toward the nose (angry)
    brow_arch: float = 0.15  # curvature; +: arched (surprise)
    brow_asym: float = 0.0  # +: right brow up and left brow down (disgust, scepticism)
    brow_weight: float = 1.0  # stroke thickness multiplier
    brow_l: float = 0.0  # -1..1: one brow lowered/raised on its own (viewer's left / right)
    brow_r: float = 0.0
    brow_outer_l: float = 0.0  # 0..1: the outer end lifted (one-sided scepticism)
    brow_outer_r: float = 0.0

    # Eyes.
    eye_open_l: float = 1.0  # 0 closed .. 1 normal .. ~1.3 wide; per eye, for blinks and winks
    eye_open_r: float = 1.0
    eye_smile: float = 0.0  # 0 oval eyes .. 1 happy "^" crescents
    eye_white: float = 0.0  # 0 solid dark eyes .. 1 white eyes with pupils (wide-eyed)
    pupil: float = 1.0  # pupil size when eye_white
    lid_upper: float = 0.0  # 0..1: upper lid lowered over the eye (angry glare, sad droop)
    lid_tilt: float = 0.0  # +: the lid is lower at the inner corner (angry); -: at the outer (sad)
    lid_lower: float = 0.0  # 0..1: lower lid raised (disgust squint)
    squint_l: float = 0.0  # 0..1: one eye's lower lid raised on its own
    squint_r: float = 0.0
    gaze_x: float = 0.0  # -1..1, pupils/eyes shift (viewer's left/right)
    gaze_y: float = 0.0  # -1..1, +: looking down

    # Mouth: a lip line bent by `mouth_curve`, opened by a superellipse profile.
    mouth_curve: float = 0.0  # -1 frown .. +1 smile
    mouth_open: float = 0.0  # 0 closed .. 1 wide open
    mouth_width: float = 0.8  # multiplier of the default half-width
    mouth_square: float = 0.0  # 0 rounded/oval opening .. 1 boxy, stretched
    mouth_upper: float = 0.3  # share of the opening above the lip line (1 = upper lip raised)
    mouth_side: float = 0.0  # -1..1: opening concentrated on the left/right side (snarl)
    mouth_tilt: float = 0.0  # +: right corner raised
    mouth_weight: float = 1.0  # lip line thickness (pressed lips are thicker)
    mouth_shift: float = 0.0  # -1..1: the whole mouth moved to the viewer's left / right
    mouth_pucker: float = 0.0  # 0..1: lips pushed forward into a small round bud (a kiss)
    teeth_upper: float = 0.0  # 0..1
    teeth_lower: float = 0.0  # 0..1
    tongue: float = 0.0  # 0..1

    # Extra cues that survive a mask (they sit above it) or sunglasses.
    nose_wrinkle: float = 0.0  # 0..1 (disgust)
    cheek_blush: float = 0.0  # 0..1 (happy)
    cheek_puff: float = 0.0  # 0..1: cheeks blown out
    tear: float = 0.0  # 0..1 (sad)
    sweat: float = 0.0  # 0..1 (fear)

    # Head pose: drawn by moving the features on the disc (the disc itself is symmetric).
    head_roll: float = 0.0  # degrees, clockwise as seen
    head_yaw: float = 0.0  # -1..1, features slide toward the viewer's left/right

    def quantized(self) -> "FaceParams":
        """Rounded copy, the form used as a cache key. Remembered on the instance (it is frozen): the
        renderer asks for each face's key several times a frame (12 times for a group of four), each
        time rounding every field."""
        q = self.__dict__.get("_quantized")
        if q is None:
            q = FaceParams(*[round(round(getattr(self, name) / step) * step, 4) for name, step in _steps()])
            object.__setattr__(q, "_quantized", q)
            object.__setattr__(self, "_quantized", q)
        return q

    def near(self, other: "FaceParams") -> bool:
        """Every field within one cache step of `other`: no change a viewer could see, only the
        jitter that would otherwise flip a rounded cache key (and draw a new variant) frame by frame."""
        return all(abs(getattr(self, name) - getattr(other, name)) < step for name, step in _steps())

    def with_eyes(self, openness: float) -> "FaceParams":
        """The same face with both eyes scaled by `openness` (a blink is this over ~150 ms)."""
        return dataclasses.replace(self, eye_open_l=self.eye_open_l * openness,
                                   eye_open_r=self.eye_open_r * openness)


def blend(a: FaceParams, b: FaceParams, t: float) -> FaceParams:
    """Linear interpolation of every field, for param morphs (t=0 gives a, t=1 gives b)."""
    t = min(1.0, max(0.0, t))
    return FaceParams(**{f.name: getattr(a, f.name) * (1 - t) + getattr(b, f.name) * t for f in fields(a)})


# Each expression pushes several independent cues so that any one of mask / sunglasses leaves at
# least two of them visible: brows + eyes above a mask, brows + mouth around sunglasses.
EXPRESSION_PARAMS: dict[str, FaceParams] = {
    "neutral": FaceParams(
        brow_raise=0.05, brow_arch=0.12,
        mouth_width=0.78, mouth_weight=1.1,
    ),
    "happy": FaceParams(
        brow_raise=0.45, brow_arch=0.55, brow_weight=0.9,
        eye_smile=1.0,
        mouth_curve=1.0, mouth_open=0.6, mouth_width=1.12, mouth_square=0.25, mouth_upper=0.06,
        teeth_upper=0.7, tongue=0.9,
        cheek_blush=1.0,
    ),
    "sad": FaceParams(
        brow_raise=0.05, brow_tilt=1.15, brow_arch=-0.1,
        eye_open_l=0.95, eye_open_r=0.95, lid_upper=0.16, lid_tilt=-0.8, gaze_y=0.4,
        mouth_curve=-1.0, mouth_width=0.78, mouth_weight=1.15,
        tear=1.0,
    ),
    "angry": FaceParams(
        brow_raise=-0.85, brow_tilt=-1.35, brow_squeeze=0.8, brow_arch=0.0, brow_weight=1.35,
        eye_open_l=0.95, eye_open_r=0.95, lid_upper=0.42, lid_tilt=1.0,
        mouth_curve=-0.55, mouth_width=0.6, mouth_weight=1.55,
    ),
    "fear": FaceParams(
        brow_raise=0.7, brow_tilt=1.1, brow_arch=-0.05, brow_squeeze=0.35,
        eye_open_l=1.25, eye_open_r=1.25, eye_white=1.0, pupil=0.55,
        mouth_curve=-0.55, mouth_open=0.5, mouth_width=1.1, mouth_square=1.0, mouth_upper=0.5,
        teeth_upper=1.0, teeth_lower=1.0,
        sweat=1.0,
    ),
    "surprise": FaceParams(
        brow_raise=1.0, brow_arch=0.95, brow_weight=0.95,
        eye_open_l=1.3, eye_open_r=1.3, eye_white=1.0, pupil=0.95,
        mouth_open=0.9, mouth_width=0.42, mouth_upper=0.45,
    ),
    # A smirk: one mouth corner up, the other flat, lids half lowered and one brow up - a knowing look.
    "contempt": FaceParams(
        brow_raise=0.1, brow_asym=0.7, brow_arch=0.2, brow_weight=1.1,
        eye_open_l=0.9, eye_open_r=0.9, lid_upper=0.35, gaze_x=0.35,
        mouth_curve=0.2, mouth_tilt=1.0, mouth_width=0.72, mouth_weight=1.25,
    ),
    "disgust": FaceParams(
        brow_raise=-0.35, brow_tilt=-0.55, brow_asym=1.1, brow_arch=0.1, brow_weight=1.2,
        eye_open_l=0.95, eye_open_r=0.95, lid_lower=0.55,
        mouth_curve=-0.6, mouth_tilt=0.7, mouth_open=0.42, mouth_side=0.7, mouth_upper=0.7,
        mouth_width=0.95, mouth_square=0.5, teeth_upper=1.0, teeth_lower=0.8,
        nose_wrinkle=1.0,
    ),
}


@lru_cache(maxsize=32)
def _warn_unknown(expression: str) -> None:
    log.warning("unknown expression %r, drawing neutral", expression)  # once per name, not per frame


def expression_params(expression: str) -> FaceParams:
    """Params for an expression name; an unknown name is drawn neutral (and logged), never fatal."""
    params = EXPRESSION_PARAMS.get(expression)
    if params is None:
        _warn_unknown(expression)
        return EXPRESSION_PARAMS["neutral"]
    return params


# Live motion is snapped to a few levels per signal: every distinct params is a drawn variant, and a
# face that moves must mostly hit the cache. Eyes: closed / half / open (the blink variants).
MOTION_LEVELS = {"eye": 0.5, "mouth_open": 0.25, "mouth_width": 0.5, "smile": 0.5, "brow": 0.5,
                 "roll_deg": 5.0, "yaw": 0.25, "pitch": 0.5}
MAX_ROLL_DEG = 20.0
MAX_YAW_DEG = 35.0  # a turn this far slides the features fully (head_yaw 1)
MAX_PITCH_DEG = 25.0


def _snap(v: float, step: float, lo: float, hi: float) -> float:
    return round(min(hi, max(lo, v)) / step) * step


def with_motion(p: FaceParams, m: Motion) -> FaceParams:
    """The expression's params moved by one person's live signals.

    The expression keeps the overall look and motion only adds to it: a smile's curve keeps its sign
    and at least 60% of its bend while the mouth opens and closes; an expression's own open mouth
    stays at least half open; a closed eye on a happy face is drawn as a flat line under its brow.
    """
    L = MOTION_LEVELS
    eye_r = _snap(m.eye_open_right, L["eye"], 0.0, 1.0)
    eye_l = _snap(m.eye_open_left, L["eye"], 0.0, 1.0)
    curve = p.mouth_curve + 0.4 * _snap(m.smile, L["smile"], -1.0, 1.0)
    if p.mouth_curve > 0.3:
        curve = max(curve, 0.6 * p.mouth_curve)
    elif p.mouth_curve < -0.3:
        curve = min(curve, 0.6 * p.mouth_curve)
    return dataclasses.replace(
        p,
        eye_open_r=p.eye_open_r * eye_r,
        eye_open_l=p.eye_open_l * eye_l,
        mouth_open=max(0.5 * p.mouth_open, _snap(m.mouth_open, L["mouth_open"], 0.0, 1.0)),
        mouth_width=p.mouth_width * (1 + 0.2 * _snap(m.mouth_width, L["mouth_width"], -1.0, 1.0)),
        mouth_curve=max(-1.0, min(1.0, curve)),
        brow_raise=max(-1.0, min(1.0, p.brow_raise + 0.45 * _snap(m.brow_raise, L["brow"], -1.0, 1.0))),
        head_roll=_snap(m.roll_deg, L["roll_deg"], -MAX_ROLL_DEG, MAX_ROLL_DEG),
        head_yaw=_snap(m.yaw_deg / MAX_YAW_DEG, L["yaw"], -1.0, 1.0),
        gaze_y=max(-1.0, min(1.0, p.gaze_y + _snap(-m.pitch_deg / MAX_PITCH_DEG, L["pitch"], -1.0, 1.0))),
    )


@lru_cache(maxsize=None)
def _steps() -> tuple[tuple[str, float], ...]:
    """Each field's name and cache step, in field order (head roll in degrees, the rest in QUANTUM)."""
    return tuple((f.name, 1.0 if f.name == "head_roll" else QUANTUM) for f in fields(FaceParams))
