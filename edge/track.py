"""Track faces between detections, as MediaPipe's face pipelines do: this frame's mesh is next frame's crop.

Running BlazeFace on every frame costs as much as a face's mesh, finds a face a little differently each
time (the crops jitter), and loses far faces the mesh still follows. So the detector runs on a schedule
(and at once when a tracked face is lost or the scene has no face yet); in between, each tracked face's
mesh on this frame gives its box and keypoints, in BlazeFace's own convention so that every crop rule and
model sees what it was made for, and the region the mesh reads on the next frame.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from edge.landmarks import FaceMesh, Landmarks
from edge.motion import CHEEKS, LEFT_EYE, LIP_INNER, RIGHT_EYE
from edge.state import Face, box_iou

# BlazeFace's box and keypoints from the mesh, measured on the demo's 160 faces (python -m training
# detection-range does not need this; `face_from_mesh` is checked against the detector in the tests):
# the box is 2.24 eye-centre distances wide and square, its centre 0.56 of them below the eye midpoint.
BOX_PER_EYES = 2.24
CENTRE_BELOW_EYES = 0.56
NOSE_TIP = 4
DUPLICATE_IOU = 0.5  # two tracks this much on one face are one person: the younger goes


def face_from_mesh(points: np.ndarray, score: float) -> Face:
    """A detection made from the mesh: box and the 6 BlazeFace keypoints in frame pixels."""
    right, left = points[list(RIGHT_EYE), :2].mean(0), points[list(LEFT_EYE), :2].mean(0)
    d = float(np.linalg.norm(left - right))
    angle = math.atan2(left[1] - right[1], left[0] - right[0])
    down = np.array([-math.sin(angle), math.cos(angle)])
    centre = (right + left) / 2 + CENTRE_BELOW_EYES * d * down
    side = BOX_PER_EYES * d
    box = np.array([centre[0] - side / 2, centre[1] - side / 2, side, side], np.float32)
    mouth = points[list(LIP_INNER), :2].mean(0)
    kp = np.stack([right, left, points[NOSE_TIP, :2], mouth, points[CHEEKS[0], :2], points[CHEEKS[1], :2]])
    return Face(box, score, kp.astype(np.float32))


@dataclass
class Tracked:
    """One person's face this frame: where it is, its mesh (None where the mesh did not run), and how
    many frames it has been followed (a new face is classified at once)."""

    track_id: int
    face: Face
    landmarks: Landmarks | None
    age: int = 0


class FaceTracker:
    """detector + mesh -> the faces of each frame, largest first.

    detect_every: frames between scheduled detections (new people are found within that many frames);
    a frame with no tracked face, or where a tracked face was lost, is detected at once.
    """

    def __init__(self, detect, mesh: FaceMesh, detect_every: int = 6, max_faces: int = 4):
        self.detect = detect  # frame -> list[Face], largest first
        self.mesh = mesh
        self.detect_every = max(1, detect_every)
        self.max_faces = max_faces
        self.tracks: list[Tracked] = []
        self._since_detect = self.detect_every  # the first frame detects
        self.detections = 0
        self.frames = 0
        self._next_id = 1
        self.ms = {"detect": 0.0, "landmarks": 0.0}  # the last update's time in each, for the stage table

    def update(self, frame_bgr: np.ndarray) -> list[Tracked]:
        self.frames += 1
        t0 = time.perf_counter()
        due = self._since_detect >= self.detect_every or not self.tracks
        if due:
            self._merge(self.detect(frame_bgr)[: self.max_faces])
            self._since_detect = 0
            self.detections += 1
        self._since_detect += 1
        t1 = time.perf_counter()
        alive: list[Tracked] = []
        for t in self.tracks:
            lm = self.mesh(frame_bgr, t.face)
            if lm is None:  # gone, or (a new detection, often on a tile) never a face: the mesh vetoes
                continue
            alive.append(Tracked(t.track_id, face_from_mesh(lm.points, lm.score), lm, t.age + 1))
        lost = any(t.age > 0 for t in self.tracks if t.track_id not in {a.track_id for a in alive})
        self.tracks = self._dedupe(alive)
        if lost:
            self._since_detect = self.detect_every  # somebody left or turned away: look again next frame
        out = sorted(self.tracks, key=lambda t: -t.face.area)
        self.ms = {"detect": (t1 - t0) * 1000, "landmarks": (time.perf_counter() - t1) * 1000}
        return out

    def _merge(self, found: list[Face]) -> None:
        """Detections join the tracks they overlap (the track's mesh-made box is kept: it is steadier);
        the rest start new tracks."""
        for face in found:
            best = max(self.tracks, key=lambda t: box_iou(t.face.box, face.box), default=None)
            if best is not None and box_iou(best.face.box, face.box) >= 0.3:
                continue
            self.tracks.append(Tracked(self._next_id, face, None, 0))
            self._next_id += 1
        self.tracks = self.tracks[: self.max_faces]

    @staticmethod
    def _dedupe(tracks: list[Tracked]) -> list[Tracked]:
        """Two crops that drifted onto one face would show one person twice: keep the older track."""
        keep: list[Tracked] = []
        for t in sorted(tracks, key=lambda t: -t.age):
            if all(box_iou(t.face.box, k.face.box) < DUPLICATE_IOU for k in keep):
                keep.append(t)
        return keep
