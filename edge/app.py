"""The frame loop: source -> detect -> crop -> classify -> landmarks -> smooth -> render -> display.

Data flows one way through the stages, one frame at a time, always the newest frame. The loop
waits on one stop event (SIGTERM sets it), keeps per-stage timings over a sliding window, and
turns a lost camera into a message on screen and a reconnect with backoff, never an exit.
"""
from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from edge.classify import ClassifierSet
from edge.config import Config
from edge.detect import BlazeFaceDetector
from edge.landmarks import FaceMesh
from edge.motion import Measure, measure
from edge.smooth import Smoother, emoticon_state
from edge.sources import Source, SourceError, as_bgr
from edge.state import FaceView, Scene

log = logging.getLogger(__name__)

STAGES = ("capture", "detect", "crop", "classify", "landmarks", "smooth", "render", "display")
WINDOW = 600  # frames in the sliding window for medians and fps
STATS_EVERY_S = 60.0
BACKOFF_S = (0.5, 5.0)
SHED_S = 30.0  # motion "auto": after shedding for a slow frame rate, try again this much later
SHED_WINDOW = 30  # frames whose median processing time is compared with the budget


@dataclass
class LoopStats:
    frames: int = 0
    frames_with_face: int = 0
    faces_now: int = 0
    dropped: int = 0
    started: float = field(default_factory=time.monotonic)
    stage_ms: dict[str, deque] = field(default_factory=lambda: {s: deque(maxlen=WINDOW) for s in STAGES})
    frame_times: deque = field(default_factory=lambda: deque(maxlen=WINDOW))
    latency_ms: deque = field(default_factory=lambda: deque(maxlen=WINDOW))  # capture -> on screen
    busy_ms: deque = field(default_factory=lambda: deque(maxlen=SHED_WINDOW))  # processing per frame

    def fps_recent(self) -> float:
        if len(self.frame_times) < 2:
            return 0.0
        return (len(self.frame_times) - 1) / max(1e-9, self.frame_times[-1] - self.frame_times[0])

    def medians(self) -> dict[str, float]:
        return {s: round(statistics.median(v), 3) if v else 0.0 for s, v in self.stage_ms.items()}

    def latency(self) -> float:
        return round(statistics.median(self.latency_ms), 3) if self.latency_ms else 0.0

    def summary(self) -> dict:
        wall = time.monotonic() - self.started
        return {"frames": self.frames, "frames_with_face": self.frames_with_face,
                "fps": round(self.frames / wall, 2) if wall > 0 else 0.0, "dropped": self.dropped,
                "stage_ms": self.medians(), "latency_ms": self.latency()}


class MotionPolicy:
    """Which faces get the face mesh this frame. `on`: all; `off`: none; `auto`: the first
    max_faces, and none for SHED_S after the frames got slower than the budget - the expression
    still shows, and the overlay and the log say why motion stopped."""

    def __init__(self, mode: str, max_faces: int, min_fps: int):
        self.mode, self.max_faces = mode, max_faces
        self.budget_ms = 1000.0 / min_fps
        self.shed_until = -1.0
        self.note = "" if mode == "auto" else f"motion {mode}"

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


class Mirror:
    def __init__(
        self,
        cfg: Config,
        open_source: Callable[[], Source],
        detector: BlazeFaceDetector,
        classifiers: ClassifierSet,
        renderer,
        display,
        pace: bool = True,
        mesh: FaceMesh | None = None,
    ):
        self.cfg = cfg
        self._open_source = open_source
        self.source: Source | None = open_source()  # a source missing at start is the caller's error
        self.detector = detector
        self.classifiers = classifiers
        self.smoother = Smoother(cfg.smooth.time_constant_s, cfg.smooth.track_timeout_s,
                                 head_time_constants=cfg.smooth.head_time_constants())
        self.renderer = renderer
        self.display = display
        self.pace = pace
        self.show_fps = cfg.display.show_fps
        self.stats = LoopStats()
        # called after every presented frame, 'camera lost' screens included: e.g. the systemd watchdog
        self.on_present: list[Callable[[LoopStats, Scene], None]] = []
        self._classes = {h: classifiers.classes(h) for h in classifiers.heads}
        self._tone = None if cfg.render.tone == "auto" else cfg.render.tone
        self.mesh = mesh if cfg.motion.mode != "off" else None
        self.motion = MotionPolicy(cfg.motion.mode if self.mesh is not None else "off",
                                   cfg.motion.max_faces, cfg.motion.min_fps)

    def step(self) -> list[str]:
        """One frame through every stage; returns the display's commands."""
        ms = self.stats.stage_ms
        t = time.monotonic()
        frame = self.source.read()
        if frame is None:
            return ["end"]
        t_cap = time.monotonic()
        ms["capture"].append((t_cap - t) * 1000)
        image = as_bgr(frame.image_bgr)
        faces = self.detector.detect(image)[: self.cfg.detector.max_faces] if image is not None else []
        t_det = time.monotonic()
        ms["detect"].append((t_det - t_cap) * 1000)
        if faces:
            self.classifiers.begin_frame(image, faces)
        crops = [self.classifiers.crops(image, f) for f in faces]
        t_crop = time.monotonic()
        ms["crop"].append((t_crop - t_det) * 1000)
        probs = [self.classifiers.classify(c) for c in crops]
        t_cls = time.monotonic()
        ms["classify"].append((t_cls - t_crop) * 1000)
        measures = self._landmarks(image, faces, t_cls)
        t_lm = time.monotonic()
        ms["landmarks"].append((t_lm - t_cls) * 1000)
        tracks = self.smoother.update(faces, probs, frame.t_capture, measures)
        width = image.shape[1] if image is not None else 1
        views = [FaceView(tr.track_id, emoticon_state(tr.named_labels(self._classes), self._tone),
                          float((tr.face.box[0] + tr.face.box[2] / 2) / width), tr.motion(frame.t_capture))
                 for tr in tracks]
        t_smooth = time.monotonic()
        ms["smooth"].append((t_smooth - t_lm) * 1000)
        scene = Scene(faces=views, overlay=self._overlay() if self.show_fps else [],
                      camera_rgb=image[:, :, ::-1] if self.cfg.display.pip and image is not None else None)
        commands = self._present(scene, t_smooth)
        self.stats.latency_ms.append((self.stats.frame_times[-1] - frame.t_capture) * 1000)
        self.stats.busy_ms.append((self.stats.frame_times[-1] - t_cap) * 1000)
        self.stats.frames += 1
        self.stats.frames_with_face += bool(faces)
        self.stats.faces_now = len(faces)
        self.stats.dropped = getattr(self.source, "dropped", 0)
        return commands

    def _landmarks(self, image, faces: list, now: float) -> list[Measure | None]:
        """Mesh and signals for the faces the motion policy allows; None for the others."""
        if self.mesh is None or not faces:
            return []
        k = self.motion.faces(len(faces), self.stats.busy_ms, now)
        out: list[Measure | None] = []
        for face in faces[:k]:
            lm = self.mesh(image, face)
            out.append(measure(lm.points, image) if lm is not None else None)
        return out

    def _present(self, scene: Scene, t0: float) -> list[str]:
        surface = self.renderer.render(scene, t0)
        t_render = time.monotonic()
        self.stats.stage_ms["render"].append((t_render - t0) * 1000)
        commands = self.display.show(surface)
        t_end = time.monotonic()
        self.stats.stage_ms["display"].append((t_end - t_render) * 1000)
        self.stats.frame_times.append(t_end)
        for hook in self.on_present:
            hook(self.stats, scene)
        return commands

    def _overlay(self) -> list[str]:
        med = self.stats.medians()
        lines = [f"{self.stats.fps_recent():.1f} fps  faces {self.stats.faces_now}  dropped {self.stats.dropped}"]
        lines += [f"{s:<9} {med[s]:6.2f} ms" for s in STAGES]
        lines.append(f"latency  {self.stats.latency():6.2f} ms")
        if self.motion.note:
            lines.append(self.motion.note)
        return lines

    def _reconnect(self, error: SourceError, stop: threading.Event) -> None:
        """Show the loss, retry with growing backoff; the screen stays alive meanwhile."""
        log.warning("source lost: %s; reconnecting", error)
        if self.source is not None:
            try:
                self.source.close()
            except Exception:  # a dead driver may fail to close; we are replacing it anyway
                log.debug("closing the lost source failed", exc_info=True)
            self.source = None
        delay, attempts = BACKOFF_S[0], 0
        while not stop.is_set():
            commands = self._present(Scene(message="Camera lost - reconnecting..."), time.monotonic())
            if "quit" in commands:
                stop.set()
                return
            if stop.wait(delay):
                return
            attempts += 1
            try:
                self.source = self._open_source()
                log.info("source back after %d attempts", attempts)
                return
            except SourceError as e:
                if attempts in (1, 10) or attempts % 60 == 0:  # do not flood journald
                    log.warning("still no source after %d attempts: %s", attempts, e)
                delay = min(BACKOFF_S[1], delay * 2)

    def run(self, max_frames: int | None = None, stop: threading.Event | None = None) -> LoopStats:
        stop = stop or threading.Event()
        period = 1.0 / self.cfg.display.max_fps
        next_stats = time.monotonic() + STATS_EVERY_S
        try:
            while not stop.is_set() and (max_frames is None or self.stats.frames < max_frames):
                t = time.monotonic()
                try:
                    commands = self.step()
                except SourceError as e:
                    self._reconnect(e, stop)
                    continue
                if "quit" in commands or "end" in commands:
                    break
                if "toggle_fps" in commands:
                    self.show_fps = not self.show_fps
                now = time.monotonic()
                if now >= next_stats:
                    next_stats = now + STATS_EVERY_S
                    log.info("stats: %.1f fps, %d frames, %d with faces, %d dropped",
                             self.stats.fps_recent(), self.stats.frames, self.stats.frames_with_face,
                             self.stats.dropped)
                if self.pace:
                    stop.wait(max(0.0, period - (now - t)))
        finally:
            if self.source is not None:
                self.source.close()
        return self.stats
