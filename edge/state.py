"""The data handed from stage to stage.

Kept in one small module so inference never imports drawing and drawing never imports inference:
the renderer knows only `Scene`, the detector only produces `Face`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EXPRESSIONS = ("angry", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")
TONES = ("yellow", "light", "medium_light", "medium", "medium_dark", "dark")
SKIN_TONES = TONES[1:]  # measured tones; "yellow" is the classic emoji, chosen only by config
EYEWEAR = ("none", "glasses", "sunglasses")
GLASSES_SHAPES = ("round", "rectangular", "plain")  # plain: a frame the model is unsure of
MASK = ("mask", "no_mask")

# A camera's frame stamps jitter by a millisecond or two, and stamps of a 30 fps clock added up in floating
# point come out 0.1 ms short as often as not: without this slack, a model meant to run every 0.1 s (every
# 3rd frame) ran on the 4th whenever they did, by the luck of the clock's rounding (issue 19: the same
# run gave brows 0.0476 or 0.0505 from every-frame inference).
DUE_SLACK_S = 0.005


def is_due(elapsed_s: float, every_s: float) -> bool:
    """Has `every_s` passed, give or take a camera's jitter?"""
    return elapsed_s >= every_s - DUE_SLACK_S


# BlazeFace keypoint order (image perspective: "right eye" is the person's right, left in the image).
KEYPOINTS = ("right_eye", "left_eye", "nose", "mouth", "right_ear", "left_ear")


@dataclass
class Face:
    """One detection in frame pixels: box (x, y, w, h), score, and the 6 keypoints as (6, 2)."""

    box: np.ndarray
    score: float
    keypoints: np.ndarray
    # Who placed the keypoints: "detector" (BlazeFace, whose eyes on a frame and on its mirror image
    # differ by several pixels), "mesh" (a tracked face, edge/perceive/track.py) or "pooled" (edge/perceive/detect.py
    # mirror_pooled). The skin tone re-reads only the detector's (issue 23).
    keypoints_from: str = "detector"

    @property
    def area(self) -> float:
        return float(self.box[2] * self.box[3])


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return float(inter / max(a[2] * a[3] + b[2] * b[3] - inter, 1e-9))


@dataclass(frozen=True)
class EmoticonState:
    """Everything the emoticon shows. Unknown attributes keep their neutral defaults."""

    expression: str = "neutral"
    tone: str = "yellow"
    eyewear: str = "none"
    glasses_shape: str = "round"  # used only when eyewear == "glasses"
    mask: bool = False


@dataclass(frozen=True)
class Motion:
    """Live signals of one face (edge/perceive/motion.py), relative to that person at rest.

    "left"/"right" are the person's own sides. Units: eye openness 0 closed .. 1 as open as at rest
    .. 1.5 wide; mouth_open 0 closed .. 1 wide open; mouth_width, smile and brow_raise -1..1 around
    rest (0) - narrow/wide, corners down/up, brows lowered/raised; angles in degrees: roll + when
    the head tips toward its own right shoulder, yaw + when it turns to its own right, pitch + chin up.
    """

    eye_open_left: float = 1.0
    eye_open_right: float = 1.0
    mouth_open: float = 0.0
    mouth_width: float = 0.0
    smile: float = 0.0
    brow_raise: float = 0.0
    roll_deg: float = 0.0
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0


@dataclass
class FaceView:
    """A face as the screen needs it: a stable id (for transitions) and where the person stands."""

    track_id: int
    state: EmoticonState
    center_x: float  # 0..1 across the camera frame; the screen mirrors it
    motion: Motion | None = None  # None: no live signals for this face (motion off, or shed)
    shapes: dict[str, float] | None = None  # the 52 blendshapes read against this person's rest (edge/perceive/blendshapes.py)
    center_y: float = 0.5  # 0..1 down the camera frame: people at different heights keep it on screen


@dataclass
class Scene:
    """What the renderer draws for one frame."""

    faces: list[FaceView] = field(default_factory=list)
    message: str | None = None  # e.g. "camera lost - reconnecting", shown instead of faces
    overlay: list[str] = field(default_factory=list)  # FPS / latency lines when toggled on
    camera_rgb: np.ndarray | None = None  # for the optional picture-in-picture
