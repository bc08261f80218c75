"""Still photos: the original project's one-photo mode, as JSON lines (one per image).

Unreadable files become an error line and the run goes on; the caller turns any error into exit 1.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from edge.classify import ClassifierSet, Prediction
from edge.detect import BlazeFaceDetector, detect_still
from edge.landmarks import FaceMesh
from edge.motion import measure, to_motion
from edge.smooth import emoticon_state
from edge.sources import SourceError
from edge.sources.files import IMAGE_SUFFIXES, read_image
from edge.state import box_iou

log = logging.getLogger(__name__)

CONFIRM_IOU = 0.3  # a retry's box and the full-range model's box must overlap this much


def expand(paths: list[str]) -> Iterator[Path]:
    """Files as given; folders as their images (sorted, recursively)."""
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        else:
            yield p


class Analyzer:
    def __init__(self, detector: BlazeFaceDetector, classifiers: ClassifierSet, max_faces: int = 4,
                 tone_override: str | None = None, mesh: FaceMesh | None = None):
        self.detector = detector
        self.classifiers = classifiers
        self.max_faces = max_faces
        self.tone_override = tone_override
        self.mesh = mesh
        self.classes = {h: classifiers.classes(h) for h in classifiers.heads}
        # photos of street scenes have faces too small for the short-range model
        self.far_detector = BlazeFaceDetector("full", 1)

    def analyze_image(self, image_bgr: np.ndarray) -> tuple[list[dict], str, dict[str, float]]:
        """Faces (largest first) with every head's label and scores, how the detector found them
        (direct, padded, full_range, tiles or none), and the time each step took."""
        t0 = time.perf_counter()
        faces, how = detect_still(self.detector, image_bgr, self.far_detector, self.confirm)
        faces = faces[: self.max_faces]
        t1 = time.perf_counter()
        self.classifiers.begin_frame(image_bgr, faces, fresh=True)
        results = []
        for face in faces:
            probs = self.classifiers.classify(self.classifiers.crops(image_bgr, face))
            entry: dict = {
                "box": [int(round(v)) for v in face.box],
                "score": round(face.score, 4),
                "keypoints": [[int(round(x)), int(round(y))] for x, y in face.keypoints],
            }
            for head, p in probs.items():
                pred = Prediction.from_probs(self.classes[head], p)
                entry[head] = {"label": pred.label, "scores": {k: round(v, 4) for k, v in pred.scores.items()}}
            if entry.get("eyewear", {}).get("label") != "glasses":
                entry.pop("glasses_shape", None)  # a frame shape means nothing without clear glasses
            results.append(entry)
        t2 = time.perf_counter()
        timings = {"detect": round((t1 - t0) * 1000, 2), "classify": round((t2 - t1) * 1000, 2)}
        if self.mesh is not None:
            for face, entry in zip(faces, results):
                entry["motion"] = self.motion_entry(image_bgr, face)
            timings["landmarks"] = round((time.perf_counter() - t2) * 1000, 2)
        return results, how, timings

    def confirm(self, image_bgr: np.ndarray, face) -> bool:
        """A retry's box is kept only if the full-range model finds a face there too (on the
        region around the box, padded like the retry that found it) and the face mesh, when
        present, sees a face in it: a torso at 0.57 passes neither."""
        if self.mesh is not None and self.mesh(image_bgr, face) is None:
            return False
        x, y, w, h = (float(v) for v in face.box)
        side = 2.5 * max(w, h)
        x0, y0 = int(round(x + w / 2 - side / 2)), int(round(y + h / 2 - side / 2))
        m = np.float32([[1, 0, -x0], [0, 1, -y0]])
        region = cv2.warpAffine(image_bgr, m, (int(side), int(side)), borderMode=cv2.BORDER_REPLICATE)
        for f in self.far_detector.detect(region):
            box = f.box + np.float32([x0, y0, 0, 0])
            if box_iou(box, face.box) >= CONFIRM_IOU:
                return True
        return False

    def motion_entry(self, image_bgr: np.ndarray, face) -> dict | None:
        """Live-motion signals of a still face, read against the population's rest face (a photo
        has no history to learn this person's); units as in edge.state.Motion. None: no mesh fit."""
        lm = self.mesh(image_bgr, face)
        if lm is None:
            return None
        return {k: round(v, 3) for k, v in vars(to_motion(measure(lm.points, image_bgr))).items()}

    def state_for(self, face_entry: dict):
        labels = {h: face_entry[h]["label"] for h in self.classes if h in face_entry}
        return emoticon_state(labels, self.tone_override)

    def analyze_path(self, path: Path) -> dict:
        t0 = time.perf_counter()
        try:
            image = read_image(path)
        except SourceError as e:
            return {"image": str(path), "error": str(e).split(": ", 1)[-1]}
        t1 = time.perf_counter()
        faces, how, timings = self.analyze_image(image)
        h, w = image.shape[:2]
        return {"image": str(path), "width": w, "height": h, "faces": faces, "detected_by": how,
                "timings_ms": {"decode": round((t1 - t0) * 1000, 2), **timings}}
