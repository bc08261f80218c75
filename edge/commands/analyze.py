"""Still photos: the original project's one-photo mode, as JSON lines (one per image).

Unreadable files become an error line and the run goes on; the caller turns any error into exit 1.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from edge.perceive.blendshapes import NAMES as SHAPE_NAMES
from edge.perceive.motion import to_motion
from edge.perceive.perception import Perception
from edge.perceive.smooth import emoticon_state
from edge.sources import SourceError
from edge.sources.files import IMAGE_SUFFIXES, read_image

log = logging.getLogger(__name__)



def expand(paths: list[str]) -> Iterator[Path]:
    """Files as given; folders as their images (sorted, recursively)."""
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        else:
            yield p


class Analyzer:
    """Still photos through the one perception pass (edge/perceive/perception.py), as JSON-ready dicts."""

    def __init__(self, perception: Perception, tone_override: str | None = None):
        self.perception = perception
        self.classifiers = perception.classifiers
        self.tone_override = tone_override
        self.classes = {h: self.classifiers.classes(h) for h in self.classifiers.heads}

    def analyze_image(self, image_bgr: np.ndarray) -> tuple[list[dict], str, dict[str, float]]:
        """Faces (largest first) with every head's label and scores, how the detector found them
        (direct, padded, full_range, tiles or none), live-motion signals where the mesh fits, and the
        time each step took."""
        t0 = time.perf_counter()
        percepts, how = self.perception.still(image_bgr)
        results = []
        for p in percepts:
            face = p.face
            entry: dict = {
                "box": [int(round(v)) for v in face.box],
                "score": round(face.score, 4),
                "keypoints": [[int(round(x)), int(round(y))] for x, y in face.keypoints],
            }
            shown = self.classifiers.labels(p.probs)
            for head, probs in p.probs.items():
                if head in shown:
                    entry[head] = {"label": shown[head],
                                   "scores": {k: round(float(v), 4) for k, v in zip(self.classes[head], probs)}}
            if self.perception.mesh is not None:
                # a photo has no history to learn this person's rest face: the population's stands in
                entry["motion"] = None if p.measure is None else {
                    k: round(v, 3) for k, v in vars(to_motion(p.measure)).items()}
            if p.shapes is not None:  # the largest face, read by the 478-point mesh as live
                entry["blendshapes"] = {name: round(float(v), 4) for name, v in zip(SHAPE_NAMES, p.shapes)}
            results.append(entry)
        timings = {"perceive": round((time.perf_counter() - t0) * 1000, 2)}
        return results, how, timings

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
