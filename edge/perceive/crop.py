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

FILTERS = ("pyramid", "area")


@dataclass(frozen=True)
class CropRule:
    """side = scale x detector box width; centre = box centre moved shift_y x side down the face.

    filter: how a big face is shrunk to the crop. "pyramid" (pyrDown, then bilinear) is what the
    models before issue 23 learned on, and pyrDown keeps every other pixel, so a face over ~200 px
    gets another crop when it moves by one pixel; "area" (`warp`) gives the same crop, and is only
    right for a model trained on crops cut that way (the manifest says)."""

    scale: float = 1.0
    shift_y: float = 0.0
    rotate: bool = True  # level the eyes
    filter: str = "pyramid"

    def __post_init__(self) -> None:
        if self.filter not in FILTERS:
            raise ValueError(f"unknown crop filter {self.filter!r}; known: {', '.join(FILTERS)}")

    @classmethod
    def from_manifest(cls, d: dict) -> "CropRule":
        if d.get("kind", "eyes_aligned") != "eyes_aligned":
            raise ValueError(f"unknown crop kind {d.get('kind')!r}")
        return cls(float(d.get("scale", 1.0)), float(d.get("shift_y", 0.0)), bool(d.get("rotate", True)),
                   str(d.get("filter", "pyramid")))

    def to_manifest(self) -> dict:
        """The default filter is left out, so rules written before it existed read (and hash) the same."""
        d = {"kind": "eyes_aligned", "scale": self.scale, "shift_y": self.shift_y, "rotate": self.rotate}
        return d if self.filter == "pyramid" else d | {"filter": self.filter}


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
    pyrDown until the face is at most four times the crop size. Border pixels are repeated, not
    black, so a face cut by the frame edge does not gain a hard bar the model never saw.

    The classifiers were trained on crops cut by exactly this rule (training/attributes.py and
    training/edge_gap.py call this function). A rule with filter "area" shrinks with `warp` instead:
    served to a model trained the pyramid way it moved val accuracy by -0.3 points (expression through
    the edge path) and +-0 (attributes) without steadying the labels (issue 23), so only a model
    retrained on area crops gets it (`python -m training attributes --crop-filter area`).
    """
    src = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY) if color == "gray" else frame_bgr
    m = crop_matrix(face, rule, out_size)
    if rule.filter == "area":
        out = warp(src, m, out_size)
        return cv2.cvtColor(out, cv2.COLOR_BGR2RGB) if color == "rgb" else out
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


def warp(src: np.ndarray, m: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
    """warpAffine by m (frame -> output pixels), with the same low-pass filter at every scale.

    Bilinear sampling of an image shrunk 2 to 4 times aliases: what it reads depends on where the
    face sits on the pixel grid and how big it is. So the part of the frame under the output is
    first shrunk with INTER_AREA (a box filter matched to the scale) and only the remaining
    rotation and sub-pixel shift is left to bilinear sampling. Used where a face is measured at a
    fixed resolution whatever its size (skin tone), so a 60 px and a 300 px face read alike."""
    scale = math.sqrt(abs(float(np.linalg.det(m[:, :2].astype(np.float64)))))
    if scale < 1:
        src, m = _area_shrunk(src, m, scale, out_size)
    return cv2.warpAffine(src, m, (out_size[1], out_size[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _area_shrunk(src: np.ndarray, m: np.ndarray, scale: float, out_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The frame region the crop reads (its rotated square's bounding box, a few pixels wider,
    edge pixels repeated) shrunk by `scale` with INTER_AREA, and the crop matrix re-expressed in
    the shrunk region's pixels (pixel centres: source x = (u + 0.5) / s - 0.5 + x0)."""
    out_h, out_w = out_size
    inv = cv2.invertAffineTransform(m)
    corners = np.array([[0, 0, 1], [out_w, 0, 1], [0, out_h, 1], [out_w, out_h, 1]], np.float64) @ inv.T
    pad = 2.0 / scale
    x0, y0 = (int(math.floor(v - pad)) for v in corners.min(0))
    x1, y1 = (int(math.ceil(v + pad)) for v in corners.max(0))
    h, w = src.shape[:2]
    region = src[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]
    if region.size == 0:
        return src, m  # the crop lies wholly outside the frame: nothing to shrink
    region = cv2.copyMakeBorder(region, max(0, -y0), max(0, y1 - h), max(0, -x0), max(0, x1 - w),
                                cv2.BORDER_REPLICATE)
    rw, rh = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
    small = cv2.resize(region, (rw, rh), interpolation=cv2.INTER_AREA)
    sx, sy = rw / (x1 - x0), rh / (y1 - y0)
    lin = m[:, :2].astype(np.float64)
    offset = lin @ np.array([0.5 / sx - 0.5 + x0, 0.5 / sy - 0.5 + y0]) + m[:, 2]
    m2 = np.concatenate([lin / np.array([sx, sy]), offset[:, None]], 1).astype(np.float32)
    return small, m2
