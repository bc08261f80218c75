"""Blendshapes: MediaPipe's 52 ARKit-named facial action scores from the 478-point mesh.

The model (`face_blendshapes.tflite`, committed with its manifest entry) reads x, y of 146 of the 478
points in image pixels; the subset and the output order are those of MediaPipe's
`face_blendshapes_graph.cc` (google-ai-edge/mediapipe, tasks/cc/vision/face_landmarker). "Left" and
"Right" are the person's own sides, as in ARKit. Scores are 0 (at rest) .. 1 (fully on).
"""
from __future__ import annotations

import numpy as np

from edge.model_files import manifest_model
from edge.runtime import ModelError, TFLiteModel
from edge.state import is_due

MODEL = "blendshapes"  # manifest name
SUBSET = (
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70, 78,
    80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148, 149, 150, 152,
    153, 154, 155, 157, 158, 159, 160, 161, 162, 163, 168, 172, 173, 176, 178, 181, 185, 191, 195, 197, 234, 246,
    249, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297, 300, 308, 310, 311, 312,
    314, 317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379, 380, 381,
    382, 384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454, 466, 468, 469, 470, 471, 472,
    473, 474, 475, 476, 477,
)
NAMES = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft",
    "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft",
    "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
    "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)


PUFF = NAMES.index("cheekPuff")
LOWER_CHEEKS, EYE_CORNERS = (58, 288), (33, 263)


def cheek_width(points: np.ndarray) -> float:
    """Puffed cheeks from the mesh itself: the lower cheeks' width in eye-corner distances, mapped so a
    typical face at rest (1.37) reads about 0.35 and cheeks blown out (1.52 and wider) about 0.8. The
    released blendshape model's cheekPuff stays near 0 whatever the face does (google-ai-edge/mediapipe
    issue 4436); the per-person rest in ShapeTrack takes out how wide this face is anyway."""
    ratio = np.linalg.norm(points[LOWER_CHEEKS[0], :2] - points[LOWER_CHEEKS[1], :2]) / max(
        float(np.linalg.norm(points[EYE_CORNERS[0], :2] - points[EYE_CORNERS[1], :2])), 1e-6)
    return float(np.clip((ratio - 1.25) / 0.35, 0.0, 1.0))


class Blendshapes:
    """478 mesh points in frame pixels -> {name: score} for the 52 blendshapes (cheekPuff also read
    from the mesh's geometry, see cheek_width)."""

    def __init__(self, threads: int = 1):
        path, _ = manifest_model(MODEL)
        self.model = TFLiteModel(path, num_threads=threads)
        if self.model.inputs[0].shape != (1, len(SUBSET), 2) or self.model.outputs[0].shape[-1] != len(NAMES):
            raise ModelError(f"{path}: unexpected tensors {self.model.inputs[0].shape}, {self.model.outputs[0].shape}")
        self.subset = np.array(SUBSET)

    def scores(self, points: np.ndarray) -> np.ndarray:
        """(52,) scores in NAMES order; points (478, >= 2) in image pixels."""
        if len(points) < 478:
            raise ValueError(f"blendshapes need the 478-point mesh, got {len(points)} points")
        xy = points[self.subset, :2].astype(np.float32)[None]
        scores = np.clip(self.model.run(xy)[0].reshape(-1), 0.0, 1.0)
        scores[PUFF] = max(scores[PUFF], cheek_width(points))
        return scores

    def __call__(self, points: np.ndarray) -> dict[str, float]:
        return {n: float(v) for n, v in zip(NAMES, self.scores(points))}


REST_WINDOW = 100  # samples (~10 s at the baseline's 0.1 s spacing) for a person's rest face
REST_EVERY_S = 0.1
REST_MIN = 10
REST_CAP = 0.35  # a held smile or squint is not "rest": a person's rest score is capped here
REST_CAPS = {"cheekPuff": 0.8}  # the cheeks' width (cheek_width) is mostly the face's own shape
FILTER = (1.5, 0.8)  # One Euro: min cut-off Hz, beta per unit/s - a 120 ms blink passes whole


class ShapeTrack:
    """One person's blendshapes over time, read against their own rest face and filtered.

    People differ at rest (a resting squint, a mouth that turns up): each score's rest is a low
    percentile of the last ~10 s, capped so a held expression is not absorbed; the score is then
    rescaled so rest reads 0 and fully on still reads 1, and One Euro filtered like the other signals.
    """

    def __init__(self) -> None:
        from edge.perceive.motion import OneEuro  # the same filter as the nine motion signals

        self._samples: list[np.ndarray] = []
        self._last_t = -np.inf
        self.rest = np.zeros(len(NAMES))
        self._caps = np.array([REST_CAPS.get(n, REST_CAP) for n in NAMES])
        self._filters = [OneEuro(*FILTER) for _ in NAMES]
        self.shapes: dict[str, float] | None = None

    def update(self, scores: np.ndarray, t: float) -> dict[str, float]:
        if is_due(t - self._last_t, REST_EVERY_S):
            self._last_t = t
            self._samples = (self._samples + [scores])[-REST_WINDOW:]
            if len(self._samples) >= REST_MIN:
                self.rest = np.minimum(np.percentile(np.stack(self._samples), 25, axis=0), self._caps)
        rel = np.clip((scores - self.rest) / (1 - self.rest), 0.0, 1.0)
        self.shapes = {n: float(f(float(v), t)) for n, f, v in zip(NAMES, self._filters, rel)}
        return self.shapes
