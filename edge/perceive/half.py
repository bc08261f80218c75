"""The perceiving half of the frame loop: a frame in, the faces to draw out (edge/app.py draws them).

Perception (track, crop, classify, mesh: edge/perceive/perception.py), which faces get motion (MotionPolicy), and
smoothing into what each face shows. It keeps every piece of state it needs, so that it runs the same
in the loop's own thread, on the pipeline's worker thread or in a process of its own (edge/perceive/process.py);
what it hands back (`Perceived`) is small and plain, and the frame stays with the loop.
"""
from __future__ import annotations

import logging
import statistics
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from edge.config import Config
from edge.perceive.perception import MotionPlan, Perception
from edge.perceive.overlap import Ready
from edge.perceive.smooth import Smoother, emoticon_state, named_labels, shown_motion, shown_shapes
from edge.state import FaceView

log = logging.getLogger(__name__)

SHED_S = 30.0  # motion "auto": after shedding for a slow frame rate, try again this much later
SHED_WINDOW = 30  # frames whose median processing time is compared with the budget
# motion.turns_when_busy: every face's mesh on turns once a frame's processing takes this share of the
# camera's frame interval, full rate again below TURNS_OFF (at turns a frame costs ~0.6 of one at full rate)
TURNS_ON, TURNS_OFF = 0.85, 0.45


class PerceptionProcessError(RuntimeError):
    """The perceiving half failed or ended in a process of its own (edge/perceive/process.py); the
    loop catches it without knowing about processes."""


@dataclass
class Perceived:
    """One frame's faces, handed from the perceiving half of the loop to the presenting one."""

    faces: int
    views: list[FaceView]
    stage_ms: dict[str, float]
    note: str  # why motion is shed or limited, for the overlay ("" when it is not)
    detected: bool  # the detector ran on this frame (tracking runs it on a schedule)


class MotionPolicy:
    """Which faces get the face mesh this frame. `on`: all; `off`: none; `auto`: the first
    max_faces, and none for SHED_S after the frames got slower than the budget - the expression
    still shows, and the overlay and the log say why motion stopped."""

    def __init__(self, mode: str, max_faces: int, min_fps: int, turns_when_busy: bool = False):
        self.mode, self.max_faces = mode, max_faces
        self.budget_ms = 1000.0 / min_fps
        self.turns_when_busy, self.turns = turns_when_busy, False
        self.shed_until = -1.0
        self.note = "" if mode == "auto" else f"motion {mode}"

    def full_rate_faces(self, configured: int, busy_ms: deque, interval_ms: float) -> int:
        """motion.full_rate_faces, or 0 (every face's mesh on turns, the largest one's too) while frames
        take most of the camera's frame interval: on a slow device (a Pi 4) half the mesh's cost keeps
        the loop at the camera's rate, and the motion moves at half of it rather than the frames
        falling behind. Back to full rate once frames take less than half the interval."""
        if self.turns_when_busy and len(busy_ms) == busy_ms.maxlen:
            busy = statistics.median(busy_ms)
            if not self.turns and busy > TURNS_ON * interval_ms:
                self.turns = True
                log.info("frames take %.0f ms of the camera's %.0f: face meshes take turns", busy, interval_ms)
            elif self.turns and busy < TURNS_OFF * interval_ms:
                self.turns = False
                log.info("frames take %.0f ms of the camera's %.0f: face meshes on every frame again", busy, interval_ms)
        return 0 if self.turns else configured

    def most(self, now: float) -> int | None:
        """Before a frame is seen: the most faces that can get motion in it (None: every face), so
        that the perception measures no face whose motion will not be shown."""
        if self.mode == "off" or (self.mode == "auto" and now < self.shed_until):
            return 0
        return None if self.mode == "on" else self.max_faces

    def faces(self, n: int, busy_ms: deque, now: float) -> int:
        if self.mode != "auto":
            return n if self.mode == "on" else 0
        if now < self.shed_until:
            return 0
        if self.shed_until > 0:
            self.shed_until = -1.0
            log.info("motion resumed")
        if len(busy_ms) == busy_ms.maxlen and statistics.median(busy_ms) > self.budget_ms:
            slow = statistics.median(busy_ms)
            busy_ms.clear()
            self.shed_until = now + SHED_S
            self.note = f"motion paused: frames take {slow:.0f} ms, budget {self.budget_ms:.0f}"
            log.warning("%s; retrying in %.0f s", self.note, SHED_S)
            return 0
        k = min(n, self.max_faces)
        note = f"motion on {k} of {n} faces" if n > k else ""
        if note and not self.note:
            log.info("%s (motion.max_faces = %d)", note, self.max_faces)
        self.note = note
        return k


class Perceiver:
    """frame -> Perceived. `busy_ms`: what the loop spent on its last frame (None: nothing yet), which
    decides whether motion is shed or the meshes take turns."""

    concurrent = False  # submit() returns when the frame is perceived (edge/perceive/process.py's, at once)

    def __init__(self, cfg: Config, perception: Perception):
        self.cfg = cfg
        self.perception = perception  # edge/build.py assembles it (tracking, tiles, mesh) from the config
        self.smoother = Smoother(cfg.smooth.time_constant_s, cfg.smooth.track_timeout_s,
                                 head_time_constants=cfg.smooth.head_time_constants())
        classifiers = perception.classifiers
        self._classes = {h: classifiers.classes(h) for h in classifiers.heads}
        self._tone = None if cfg.render.tone == "auto" else cfg.render.tone
        self.motion = MotionPolicy(cfg.motion.mode if perception.mesh is not None else "off",
                                   cfg.motion.max_faces, cfg.motion.min_fps, cfg.motion.turns_when_busy)
        self.busy_ms: deque = deque(maxlen=SHED_WINDOW)  # the loop's processing per frame
        self._next: tuple[int | None, int | None] = (None, None)  # MotionPlan's full_rate and fine, for the next frame

    def submit(self, image: np.ndarray | None, t_capture: float, busy_ms: float | None) -> Ready[Perceived]:
        """Perceived at once, here (edge/perceive/process.py's perceiver returns before its process is done)."""
        return Ready(self(image, t_capture, busy_ms))

    def __call__(self, image: np.ndarray | None, t_capture: float, busy_ms: float | None) -> Perceived:
        if busy_ms is not None:
            self.busy_ms.append(busy_ms)
        plan = MotionPlan(self.motion.most(time.monotonic()), *self._next)
        percepts = self.perception.live(image, t_capture, plan) if image is not None else []
        stage_ms = dict(self.perception.ms)
        t_lm = time.monotonic()
        k = self.motion.faces(len(percepts), self.busy_ms, t_lm)
        # decided on this frame, in force from the next: the meshes on turns while frames are slow, and
        # (shed) the 468-point mesh for everybody until the frames are fast again
        self._next = (self.motion.full_rate_faces(self.cfg.motion.full_rate_faces, self.busy_ms,
                                                  1000.0 / self.cfg.source.fps),
                      self.cfg.motion.blendshapes if k == len(percepts) or not percepts else 0)
        people = [self.perception.people[p.track_id] for p in percepts]
        self.smoother.update(people, [p.probs for p in percepts], t_capture,
                             [p.measure if i < k else None for i, p in enumerate(percepts)],
                             shapes=[p.shapes if i < k else None for i, p in enumerate(percepts)])
        height, width = image.shape[:2] if image is not None else (1, 1)
        views = [FaceView(person.id, emoticon_state(named_labels(person.smoothed, self._classes), self._tone),
                          float((p.face.box[0] + p.face.box[2] / 2) / width), shown_motion(person.smoothed, t_capture),
                          shown_shapes(person.smoothed, t_capture),
                          center_y=float((p.face.box[1] + p.face.box[3] / 2) / height))
                 for p, person in zip(percepts, people)]
        stage_ms["smooth"] = (time.monotonic() - t_lm) * 1000
        return Perceived(len(percepts), views, stage_ms, self.motion.note, image is not None and self.perception.detected)

    def cpu_s(self) -> float:
        """CPU time spent elsewhere than this process's own clock (edge/perceive/process.py's process): none."""
        return 0.0

    def close(self) -> None:
        """Nothing to let go of in this process (edge/perceive/process.py's has a process to end)."""
