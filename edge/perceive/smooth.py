"""Temporal smoothing of each person's heads and live signals, so the emoticon follows a person, not single frames.

Classifier outputs flicker from frame to frame; an emoticon that flips between sad and neutral
five times a second looks broken. Each person keeps an exponentially smoothed probability vector per
head (the time constant, not the frame rate, sets how calm it is) and a label changes only when
another class clearly wins. A head may have its own time constant: a person's eyewear, mask and
glasses change rarely, so one frame with a reflection on a lens must not put sunglasses on them.
Each head steps by the time since it last ran on that face, not since the last frame: the models run
on schedules (the expression ten times a second, the attributes once a second), and a step sized by
the frame interval would make a head that runs once a second thirty times slower than its time
constant says. Who is who is the tracker's word (edge/perceive/track.py); the smoothed state is kept in
each person's record (edge/perceive/person.py).
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from edge.perceive import labels as shown_labels
from edge.perceive.blendshapes import ShapeTrack
from edge.perceive.motion import Measure, MotionTrack
from edge.perceive.person import Person, Smoothed
from edge.state import EmoticonState, Motion

MOTION_HOLD_S = 0.3  # a face whose mesh drops out for a moment keeps its last pose this long


def shown_motion(s: Smoothed, now: float) -> Motion | None:
    """The smoothed live signals, or None when this face has had no mesh lately."""
    if s.motion is None or now - s.motion_at > MOTION_HOLD_S:
        return None
    return s.motion.motion


def shown_shapes(s: Smoothed, now: float) -> dict[str, float] | None:
    """The smoothed blendshapes, or None when this face has had no 478-point mesh lately."""
    if s.shapes is None or now - s.shapes_at > MOTION_HOLD_S:
        return None
    return s.shapes.shapes


def named_labels(s: Smoothed, classes: dict[str, list[str]]) -> dict[str, str]:
    return {h: shown_labels.name(classes[h], i) for h, i in s.labels.items() if h in classes}


def step(s: Smoothed, probs: dict[str, np.ndarray], now: float, tau: float,
         head_tau: Mapping[str, float] | None = None) -> None:
    """tau: the time constant, in seconds; head_tau overrides it for some heads."""
    for head, p in probs.items():
        old, then = s.probs.get(head), s.updated_at.get(head)
        s.updated_at[head] = now
        if old is None or then is None or old.shape != p.shape:
            s.probs[head] = p.copy()
        else:
            a = _alpha(max(0.0, now - then), (head_tau or {}).get(head, tau))
            s.probs[head] = old + a * (p - old)
        s.labels[head] = shown_labels.pick(head, s.probs[head], s.labels.get(head))


class Smoother:
    """Steps each person's smoothed heads and live signals with this frame's reads."""

    def __init__(self, time_constant_s: float = 0.4, track_timeout_s: float = 1.0,
                 head_time_constants: Mapping[str, float] | None = None):
        self.tau = time_constant_s
        self.head_tau = dict(head_time_constants or {})  # heads not named here use time_constant_s
        self.timeout = track_timeout_s

    def update(self, people: list[Person], probs: list[dict[str, np.ndarray]], now: float,
               measures: list[Measure | None] | None = None,
               shapes: list[np.ndarray | None] | None = None) -> None:
        """people: this frame's, as the tracker follows them; probs, measures, shapes: theirs, in order.
        A smoothing last stepped more than track_timeout_s ago (no frames came: a camera lost and found
        again) starts afresh rather than carry on from a stale state."""
        for person, p in zip(people, probs):
            if now - person.smoothed.at > self.timeout:
                person.smoothed = Smoothed()
            step(person.smoothed, p, now, self.tau, self.head_tau)
            person.smoothed.at = now
        for person, m in zip(people, measures or []):
            if m is not None:
                s = person.smoothed
                if s.motion is None:
                    s.motion = MotionTrack()
                s.motion.update(m, now)
                s.motion_at = now
        for person, b in zip(people, shapes or []):
            if b is not None:
                s = person.smoothed
                if s.shapes is None:
                    s.shapes = ShapeTrack()
                s.shapes.update(b, now)
                s.shapes_at = now


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
