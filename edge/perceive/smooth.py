"""Per-face tracks and temporal smoothing, so the emoticon follows a person, not single frames.

Classifier outputs flicker from frame to frame; an emoticon that flips between sad and neutral
five times a second looks broken. Each face keeps an exponentially smoothed probability vector per
head (the time constant, not the frame rate, sets how calm it is) and a label changes only when
another class clearly wins. A head may have its own time constant: a person's eyewear, mask and
glasses change rarely, so one frame with a reflection on a lens must not put sunglasses on them.
Each head steps by the time since it last ran on that face, not since the last frame: the models run
on schedules (the expression ten times a second, the attributes once a second), and a step sized by
the frame interval would make a head that runs once a second thirty times slower than its time
constant says.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from edge.perceive import labels as shown_labels
from edge.perceive.blendshapes import ShapeTrack
from edge.perceive.motion import Measure, MotionTrack
from edge.state import EmoticonState, Face, Motion, box_iou

MOTION_HOLD_S = 0.3  # a face whose mesh drops out for a moment keeps its last pose this long


@dataclass
class Track:
    track_id: int
    face: Face
    last_seen: float
    probs: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    updated_at: dict[str, float] = field(default_factory=dict)  # head -> when it last ran on this face
    frames: int = 0
    motion_track: MotionTrack | None = None  # created at the first measurement: baseline + filters
    motion_at: float = -math.inf
    shape_track: ShapeTrack | None = None  # the 52 blendshapes, where this face has the 478-point mesh
    shapes_at: float = -math.inf

    def motion(self, now: float) -> Motion | None:
        """The smoothed live signals, or None when this face has had no mesh lately."""
        if self.motion_track is None or now - self.motion_at > MOTION_HOLD_S:
            return None
        return self.motion_track.motion

    def update_motion(self, m: Measure, now: float) -> None:
        if self.motion_track is None:
            self.motion_track = MotionTrack()
        self.motion_track.update(m, now)
        self.motion_at = now

    def shapes(self, now: float) -> dict[str, float] | None:
        """The smoothed blendshapes, or None when this face has had no 478-point mesh lately."""
        if self.shape_track is None or now - self.shapes_at > MOTION_HOLD_S:
            return None
        return self.shape_track.shapes

    def update_shapes(self, scores: np.ndarray, now: float) -> None:
        if self.shape_track is None:
            self.shape_track = ShapeTrack()
        self.shape_track.update(scores, now)
        self.shapes_at = now

    def named_labels(self, classes: dict[str, list[str]]) -> dict[str, str]:
        return {h: shown_labels.name(classes[h], i) for h, i in self.labels.items() if h in classes}

    def update(self, probs: dict[str, np.ndarray], now: float, tau: float,
               head_tau: Mapping[str, float] | None = None) -> None:
        """tau: the time constant, in seconds; head_tau overrides it for some heads."""
        for head, p in probs.items():
            old, then = self.probs.get(head), self.updated_at.get(head)
            self.updated_at[head] = now
            if old is None or then is None or old.shape != p.shape:
                self.probs[head] = p.copy()
            else:
                a = _alpha(max(0.0, now - then), (head_tau or {}).get(head, tau))
                self.probs[head] = old + a * (p - old)
            self.labels[head] = shown_labels.pick(head, self.probs[head], self.labels.get(head))


class Smoother:
    """Matches this frame's faces to tracks (by overlap, largest first) and smooths their heads."""

    def __init__(self, time_constant_s: float = 0.4, track_timeout_s: float = 1.0, min_iou: float = 0.2,
                 head_time_constants: Mapping[str, float] | None = None):
        self.tau = time_constant_s
        self.head_tau = dict(head_time_constants or {})  # heads not named here use time_constant_s
        self.timeout = track_timeout_s
        self.min_iou = min_iou
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, faces: list[Face], probs: list[dict[str, np.ndarray]], now: float,
               measures: list[Measure | None] | None = None, ids: list[int] | None = None,
               shapes: list[np.ndarray | None] | None = None) -> list[Track]:
        """ids: the tracker's own identities (a face followed by its mesh), which survive two people
        crossing; without them faces are matched to tracks by overlap."""
        free = [t for t in self.tracks if now - t.last_seen <= self.timeout]
        current: list[Track] = []
        for k, (face, p) in enumerate(zip(faces, probs)):
            if ids is not None:
                best = next((t for t in free if t.track_id == ids[k]), None)
            else:
                best = max(free, key=lambda t: box_iou(t.face.box, face.box), default=None)
                if best is not None and box_iou(best.face.box, face.box) < self.min_iou:
                    best = None
            if best is not None:
                free.remove(best)
                best.face, best.last_seen = face, now
                best.update(p, now, self.tau, self.head_tau)
            else:
                best = Track(ids[k] if ids is not None else self._next_id, face, now)
                self._next_id += ids is None
                best.update(p, now, self.tau)
            best.frames += 1
            current.append(best)
        for track, m in zip(current, measures or []):
            if m is not None:
                track.update_motion(m, now)
        for track, b in zip(current, shapes or []):
            if b is not None:
                track.update_shapes(b, now)
        # unseen tracks linger briefly so a missed detection does not restart a person's smoothing
        self.tracks = current + [t for t in free if now - t.last_seen <= self.timeout]
        return current


def _alpha(dt: float, tau: float) -> float:
    return 1.0 if tau <= 0 else 1.0 - math.exp(-dt / tau)


def emoticon_state(labels: dict[str, str], tone_override: str | None) -> EmoticonState:
    """Map labels per head onto what the emoticon shows; heads without a model keep defaults."""
    return EmoticonState(
        expression=labels.get("expression", "neutral"),
        tone=tone_override or labels.get("skin_tone", "yellow"),
        eyewear=labels.get("eyewear", "none"),
        glasses_shape=labels.get("glasses_shape", "round"),
        mask=labels.get("mask") == "mask",
    )
