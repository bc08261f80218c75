"""One perception pass: detect/track -> crop -> classify -> mesh -> signals, for the loop and for stills.

The frame loop and `analyze` used to write this pass out each; now both come here. Live, a face is
found by the detector on a schedule and followed by its mesh in between (edge/perceive/track.py), and each
model runs on its own schedule per face - the expression about ten times a second, staggered across
faces, the attributes and skin tone when a face appears and then about once a second - because a
person's glasses do not change between frames and their expression does not change every 33 ms.
What did not run this frame is carried by the smoother, which already expects gaps.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from edge.perceive.blendshapes import Blendshapes
from edge.perceive.classify import ClassifierSet
from edge.perceive.confirm import is_face
from edge.perceive.detect import detect_still
from edge.perceive.fusion import Fusion
from edge.perceive.landmarks import FaceMesh, Landmarks
from edge.perceive.motion import Measure, measure
from edge.perceive.person import People, Person
from edge.state import Face, is_due
from edge.perceive.track import BoxTracker, FaceTracker, distinct

EVERY_S = {"expression": 0.1, "attributes": 1.0}  # model -> seconds between runs on one face
EXPRESSION_PER_FRAME = 2  # at most this many faces' expressions a frame, so four faces are staggered
GROUP = 3  # this many faces in view share the frame: the expression runs with fewer views (classify.group_views)


@dataclass
class Percept:
    """One face in one frame: who (track id), where, what ran this frame, how it moves."""

    track_id: int
    face: Face
    probs: dict[str, np.ndarray] = field(default_factory=dict)  # heads that ran this frame only
    landmarks: Landmarks | None = None
    measure: Measure | None = None
    shapes: np.ndarray | None = None  # the 52 blendshape scores (478-point mesh only)


@dataclass(frozen=True)
class MotionPlan:
    """What the motion policy (edge/perceive/half.py) decided for one frame, handed to `live` with it:
    how many faces, largest first, get motion signals (None: all), are meshed on every frame (the
    others take turns) and get the 478-point mesh with blendshapes (None: as they were)."""

    measured: int | None = None
    full_rate: int | None = None
    fine: int | None = None


def due(people: list[Person], now: float) -> dict[int, set[str]]:
    """Which models run on each person this frame, by id; the time each ran is kept in their record,
    so somebody seen for the first time (or again, after the tracker forgot them) runs everything."""
    out: dict[int, set[str]] = {p.id: set() for p in people}
    by_id = {p.id: p for p in people}
    for model, every in EVERY_S.items():
        waiting = sorted((now - p.ran_at.get(model, -math.inf), p.id) for p in people)
        overdue = [t for late, t in reversed(waiting) if is_due(late, every)]
        if model == "expression":  # most overdue first; new faces (infinitely late) lead
            overdue = overdue[:EXPRESSION_PER_FRAME]
        for t in overdue:
            out[t].add(model)
            by_id[t].ran_at[model] = now
    return out


class Perception:
    """Everything the mirror knows how to see, assembled once (edge/build.py) and shared by the
    frame loop (`live`) and still photos (`still`)."""

    def __init__(self, detector, classifiers: ClassifierSet, mesh: FaceMesh | None = None,
                 blendshapes: Blendshapes | None = None, far_detector=None, max_faces: int = 4,
                 detect_every: int = 6, track: bool = True, fine_mesh: FaceMesh | None = None, fine_faces: int = 0,
                 full_rate_faces: int = 4, views: tuple[int, int] | None = None,
                 fusion: Fusion | None = None, forget_after_s: float = 1.0):
        self.detector = detector  # .detect(frame) -> faces; a TiledDetector live
        self.classifiers = classifiers
        self.mesh = mesh
        self.blendshapes = blendshapes
        self.fine = fine_mesh if blendshapes is not None else None  # the 478-point mesh the blendshapes read
        self.fine_faces = fine_faces  # still photos: this many largest faces get it, as live
        self.far_detector = far_detector
        self.fusion = fusion  # the expression read with the blendshapes, where a face has both this frame
        self.max_faces = max_faces
        # faces followed by their mesh between detections; without it (or tracking off), by their boxes on
        # every frame's detections, forgotten after forget_after_s unseen. Either way every face has an id,
        # and the tracker keeps each person's record (edge/perceive/person.py) and forgets it.
        self.tracking = mesh is not None and track
        self.tracker = (FaceTracker(detector.detect, mesh, detect_every, max_faces, self.fine, fine_faces,
                                    full_rate_faces) if self.tracking else BoxTracker(forget_after_s))
        self.views = views  # (expression views for one or two faces, for three or more); None: as loaded
        self.ms: dict[str, float] = {}  # the last live() call's time per stage (detect, landmarks, crop, classify)
        self.detected = False  # the last live() call ran the detector (tracking runs it on a schedule)

    def live(self, frame_bgr: np.ndarray, now: float, plan: MotionPlan | None = None) -> list[Percept]:
        """This frame's faces, largest first; models run per their schedule. plan: the motion policy's
        word for this frame (None: as assembled, every face measured)."""
        self.ms = {"detect": 0.0, "landmarks": 0.0, "crop": 0.0, "classify": 0.0}
        measured = None if plan is None or plan.measured is None else max(0, plan.measured)
        if plan is not None and self.tracking:
            if plan.full_rate is not None:
                self.tracker.full_rate_faces = max(0, plan.full_rate)
            if plan.fine is not None:
                self.tracker.fine_faces = plan.fine
        self.detected = not self.tracking
        if not self.tracking:  # detection every frame, every model every frame, the mesh if any
            t0 = time.perf_counter()
            faces = self.detector.detect(frame_bgr)[: self.max_faces]
            self.ms["detect"] = (time.perf_counter() - t0) * 1000
            ids = self.tracker.update(faces, now)
            percepts = self._classify(frame_bgr, [Percept(i, f) for i, f in zip(ids, faces)], None)
            t0 = time.perf_counter()
            if self.mesh is not None:
                for p in percepts:
                    p.landmarks = self.mesh(frame_bgr, p.face)
                self._signals(frame_bgr, percepts, measured=measured)
            self.ms["landmarks"] = (time.perf_counter() - t0) * 1000
            return percepts
        detections = self.tracker.detections
        tracked = self.tracker.update(frame_bgr)
        self.detected = self.tracker.detections > detections
        self.ms.update(self.tracker.ms)
        percepts = [Percept(t.track_id, t.face, landmarks=t.landmarks) for t in tracked]
        if self.views is not None:
            self.classifiers.expression_views(self.views[len(percepts) >= GROUP])
        self._classify(frame_bgr, percepts, due([self.people[p.track_id] for p in percepts], now))
        t0 = time.perf_counter()
        self._signals(frame_bgr, percepts, self.people, measured=measured)
        self.ms["landmarks"] += (time.perf_counter() - t0) * 1000
        return percepts

    @property
    def people(self) -> People:
        """The record of each person the live pass follows, by the id its percepts carry."""
        return self.tracker.people

    def still(self, image_bgr: np.ndarray) -> tuple[list[Percept], str]:
        """A photo: the still-photo detector retries, every model, the mesh once per face."""
        faces, how = detect_still(self.plain_detector, image_bgr, self.far_detector, self.confirm)
        faces = faces[: self.max_faces]
        # first: the skin tone is read on the mesh
        meshes = [self.mesh(image_bgr, f) for f in faces] if self.mesh is not None else [None] * len(faces)
        percepts = self._on_its_own(image_bgr, faces, meshes)
        if self.mesh is not None:
            self._signals(image_bgr, percepts)
        if self.fine is not None:  # the largest faces' blendshapes, as live; a photo's expression is not fused
            for p in percepts[: self.fine_faces]:
                fine = self.fine(image_bgr, p.face)
                p.shapes = None if fine is None else self.blendshapes.scores(fine.points)
        return percepts, how

    def confirm(self, image_bgr: np.ndarray, face: Face) -> bool:
        """A still-photo retry's box is kept only if it holds a face (edge/perceive/confirm.py)."""
        return is_face(image_bgr, face, self.plain_detector, self.far_detector, self.mesh)

    def once(self, frame_bgr: np.ndarray) -> list[Percept]:
        """One frame as a scene of its own (the consistency check's variants): the live detector with
        every tile, every model, no history - what the loop shows once a face has been there a moment.
        As in the loop, a part of a big face found on a tile is not a face, and with tracking on, a
        detection the mesh does not confirm is not followed (the flag's stars and the badge on Grace
        Hopper's cap were three more "faces" here, cut out of her surroundings, moving the light her
        skin was read in)."""
        detect = getattr(self.detector, "detect")
        faces = distinct(detect(frame_bgr, every_tile=True) if self.detector is not self.plain_detector
                         else detect(frame_bgr))
        meshes = [self.mesh(frame_bgr, f) for f in faces] if self.mesh is not None else [None] * len(faces)
        if self.tracking:
            faces, meshes = [f for f, m in zip(faces, meshes) if m is not None], [m for m in meshes if m is not None]
        return self._on_its_own(frame_bgr, faces[: self.max_faces], meshes[: self.max_faces])

    def _on_its_own(self, frame_bgr: np.ndarray, faces: list[Face], meshes: list[Landmarks | None]) -> list[Percept]:
        """Faces in a picture of their own (a photo, the check's frame), numbered in order: every model at
        once, in the picture's own light, through the step the live pass classifies with, so a still photo
        is judged exactly as the live loop judges one frame."""
        percepts = [Percept(i, f, landmarks=m) for i, (f, m) in enumerate(zip(faces, meshes))]
        return self._classify(frame_bgr, percepts, None, fresh=True)

    @property
    def plain_detector(self):
        return getattr(self.detector, "detector", self.detector)  # a TiledDetector's own BlazeFace

    def _classify(self, frame_bgr: np.ndarray, percepts: list[Percept], due: dict[int, set[str]] | None,
                  fresh: bool = False) -> list[Percept]:
        """The models due on each face (due None: every model), after the light of the frame is read
        (fresh: a picture of its own, whose light says nothing about the last one's)."""
        if not percepts and not fresh:
            return percepts
        t0 = time.perf_counter()
        self.classifiers.begin_frame(frame_bgr, [p.face for p in percepts], fresh)
        crop_s = classify_s = 0.0
        for p in percepts:
            models = None if due is None else due[p.track_id]
            if models is None or models:
                t1 = time.perf_counter()
                crops = self.classifiers.crops(frame_bgr, p.face, models, _points(p.landmarks))
                t2 = time.perf_counter()
                p.probs = self.classifiers.classify(crops, models)
                crop_s += t2 - t1
                classify_s += time.perf_counter() - t2
        begin_s = time.perf_counter() - t0 - crop_s - classify_s
        self.ms["crop"] = self.ms.get("crop", 0.0) + (begin_s + crop_s) * 1000
        self.ms["classify"] = self.ms.get("classify", 0.0) + classify_s * 1000
        return percepts

    def _signals(self, frame_bgr: np.ndarray, percepts: list[Percept], carry: People | None = None,
                 measured: int | None = None) -> None:
        """Motion signals (for the first `measured` faces; None: all) and blendshapes from each face's
        mesh, and the expression fused with them. carry: the records of tracked faces, in which a face
        between two of its meshes finds its last frame's blendshapes (kept one frame only), so that its
        expression is read the same way on every frame whatever its turn (motion.full_rate_faces)."""
        for i, p in enumerate(percepts):
            if p.landmarks is not None and (measured is None or i < measured):
                p.measure = measure(p.landmarks.points, frame_bgr)
            if p.landmarks is not None and self.blendshapes is not None and len(p.landmarks.points) == 478:
                p.shapes = self.blendshapes.scores(p.landmarks.points)
            person = carry[p.track_id] if carry is not None else None
            last = person.last_shapes if person is not None else None
            shapes = p.shapes if p.shapes is not None else (last if p.landmarks is None else None)
            if person is not None:
                person.last_shapes = p.shapes
            if self.fusion is not None and shapes is not None and "expression" in p.probs:
                p.probs["expression"] = self.fusion(p.probs["expression"], shapes)


def _points(landmarks: Landmarks | None) -> np.ndarray | None:
    return None if landmarks is None else landmarks.points
