"""Face crops for the classifiers, upright on the eye line, cut by the rule in the model manifest.

Each model was trained on crops made one way (FER2013's tight 48x48 faces, the attribute model's
padded ones); the manifest records that rule and this module is the only place it is applied, so
the crop the Pi feeds a model is the crop the model learned from.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge.state import Face


@dataclass(frozen=True)
class CropRule:
    """side = scale x detector box width; centre = box centre moved shift_y x side down the face."""

    scale: float = 1.0
    shift_y: float = 0.0
    rotate: bool = True  # level the eyes

    @classmethod
    def from_manifest(cls, d: dict) -> "CropRule":
        if d.get("kind", "eyes_aligned") != "eyes_aligned":
            raise ValueError(f"unknown crop kind {d.get('kind')!r}")
        return cls(float(d.get("scale", 1.0)), float(d.get("shift_y", 0.0)), bool(d.get("rotate", True)))

    def to_manifest(self) -> dict:
        return {"kind": "eyes_aligned", "scale": self.scale, "shift_y": self.shift_y, "rotate": self.rotate}


def roll_degrees(face: Face) -> float:
    """In-plane head roll from the eye line; keypoint 0 is the eye on the image's left."""
    (rx, ry), (lx, ly) = face.keypoints[0], face.keypoints[1]
    return math.degrees(math.atan2(ly - ry, lx - rx))


def crop_matrix(face: Face, rule: CropRule, out_size: tuple[int, int]) -> np.ndarray:
    """2x3 affine from frame pixels to crop pixels."""
    out_h, out_w = out_size
    side = max(1.0, rule.scale * float(face.box[2]))
    angle = math.radians(roll_degrees(face)) if rule.rotate else 0.0
    cx = float(face.box[0] + face.box[2] / 2)
    cy = float(face.box[1] + face.box[3] / 2)
    # move along the face's own "down" direction so a tilted head is cropped the same way
    cx += -math.sin(angle) * rule.shift_y * side
    cy += math.cos(angle) * rule.shift_y * side
    s = out_w / side
    cos, sin = math.cos(angle) * s, math.sin(angle) * s
    # rotate by -angle about the centre, scale, then put the centre in the middle of the crop
    return np.array([
        [cos, sin, out_w / 2 - (cos * cx + sin * cy)],
        [-sin * out_h / out_w, cos * out_h / out_w, out_h / 2 - (-sin * cx + cos * cy) * out_h / out_w],
    ], np.float32)


def crop_face(frame_bgr: np.ndarray, face: Face, rule: CropRule, out_size: tuple[int, int], color: str) -> np.ndarray:
    """BGR frame -> (h, w) grey or (h, w, 3) RGB uint8 crop.

    A big face shrunk to 48 px by bilinear sampling aliases, so the frame is first halved with
    pyrDown until the face is at most twice the crop size. Border pixels are repeated, not black,
    so a face cut by the frame edge does not gain a hard bar the model never saw.
    """
    src = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY) if color == "gray" else frame_bgr
    m = crop_matrix(face, rule, out_size)
    side = rule.scale * float(face.box[2])
    while side > 4 * out_size[1] and min(src.shape[:2]) >= 4:
        src = cv2.pyrDown(src)
        side /= 2
        m[:, :2] *= 2  # the matrix now reads pixels of the half-size image
    out = cv2.warpAffine(src, m, (out_size[1], out_size[0]), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    if color == "rgb":
        out = cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
    return out
