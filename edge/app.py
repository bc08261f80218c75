"""The frame loop: source -> perceive (track, crop, classify, mesh, smooth: edge/perceive/half.py) -> render
-> display.

Data flows one way through the stages, one frame at a time, always the newest frame; with
display.pipeline the next frame is perceived while this one is drawn (edge/perceive/overlap.py). The loop
waits on one stop event (SIGTERM sets it), keeps per-stage timings over a sliding window, and
turns a lost camera into a message on screen and a reconnect with backoff, never an exit. The
source is opened and read on its own thread (edge.sources.guarded), so no driver can hold the stop.
"""
from __future__ import annotations

import logging
import statistics
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from edge.config import Config
from edge.perceive.perception import Perception
from edge.perceive.half import Perceived, PerceptionProcessError, Perceiver
from edge.perceive.overlap import SWITCH_INTERVAL_S, Later, OnThread, Overlap, Result
from edge.sources import Frame, Source, SourceError, as_bgr
from edge.sources.guarded import GuardedSource
from edge.state import Scene

log = logging.getLogger(__name__)

STAGES = ("capture", "detect", "crop", "classify", "landmarks", "smooth", "render", "display")
WINDOW = 600  # frames in the sliding window for medians and fps
STATS_EVERY_S = 60.0
BACKOFF_S = (0.5, 5.0)
FIRST_WAIT_S = 2.0  # a source that opens within this at start never shows the waiting screen
LOG_EVERY_S = 60.0  # a source that stays away is logged once, then once a minute
MAX_STUCK = 3  # sources whose driver never returned; no new one is opened while this many are stuck
RESTARTS, RESTART_WINDOW_S = 3, 300.0  # a perceiving process that fails more often ends the mirror


@dataclass
class LoopStats:
    frames: int = 0
    frames_with_face: int = 0
    detected: int = 0  # frames on which the detector ran
    faces_now: int = 0
    dropped: int = 0
    started: float = field(default_factory=time.monotonic)
    stage_ms: dict[str, deque] = field(default_factory=lambda: {s: deque(maxlen=WINDOW) for s in STAGES})
    frame_times: deque = field(default_factory=lambda: deque(maxlen=WINDOW))
    latency_ms: deque = field(default_factory=lambda: deque(maxlen=WINDOW))  # capture -> on screen
    # CPU time of a frame's processing (every thread of this process and of the perceiving one): what a
    # frame costs on a machine shared with others, where wall time also counts the waits for a core
    cpu_ms: deque = field(default_factory=lambda: deque(maxlen=WINDOW))
    warm_ms: deque = field(default_factory=lambda: deque(maxlen=WINDOW))  # the renderer's spare-time building

    def fps_recent(self) -> float:
        if len(self.frame_times) < 2:
            return 0.0
        return (len(self.frame_times) - 1) / max(1e-9, self.frame_times[-1] - self.frame_times[0])

    def medians(self) -> dict[str, float]:
        return {s: round(statistics.median(v), 3) if v else 0.0 for s, v in self.stage_ms.items()}

    def means(self) -> dict[str, float]:
        """Per stage, the mean: what a stage costs over time when it runs on some frames only."""
        return {s: round(statistics.fmean(v), 3) if v else 0.0 for s, v in self.stage_ms.items()}

    def latency(self) -> float:
        return round(statistics.median(self.latency_ms), 3) if self.latency_ms else 0.0

    def summary(self) -> dict:
        wall = time.monotonic() - self.started
        return {"frames": self.frames, "frames_with_face": self.frames_with_face,
                "fps": round(self.frames / wall, 2) if wall > 0 else 0.0, "dropped": self.dropped,
                "stage_ms": self.means(), "latency_ms": self.latency()}


def frame_period(max_fps: int, source) -> float:
    """Seconds per frame: display.max_fps, or slower when the source has its own rate to keep (a
    video, the demo, images) - a file read flat out is a fast-forward, not a mirror."""
    fps = getattr(source, "fps", None) or max_fps
    return 1.0 / min(max_fps, fps)


class Mirror:
    def __init__(
        self,
        cfg: Config,
        open_source: Callable[[], Source],
        perception: Perception | Perceiver,
        renderer,
        display,
        pace: bool = True,
        source_wait_s: float | None = 0.0,
        booth=None,
    ):
        """`perception`: the perception pass, or the whole perceiving half (edge/perceive/half.py; edge/build.py
        makes one that runs in a process of its own). `source_wait_s`: how long a source missing at start
        is waited for (None: for ever, as the service does; 0: its error ends the run at once, as a
        person at a terminal wants)."""
        self.cfg = cfg
        self.booth = booth  # edge/booth/booth.py: snapshot key/button, countdown, cards, visitor counts
        self._open_source = open_source
        self.source: GuardedSource | None = None  # opened by run(), on its own thread
        self.source_wait_s = source_wait_s
        self._saved_ms = 0.0  # what the display spent writing the last frame to --out
        self._stuck: list[GuardedSource] = []  # sources whose thread never came back from the driver
        self.perceiver = Perceiver(cfg, perception) if isinstance(perception, Perception) else perception
        self.renderer = renderer
        self.display = display
        self.pace = pace
        self.show_fps = cfg.display.show_fps
        self.stats = LoopStats()
        # called after every presented frame, 'camera lost' screens included: e.g. the systemd watchdog
        self.on_present: list[Callable[[LoopStats, Scene], None]] = []
        self._busy_ms: float | None = None  # what the loop spent on its last frame, for the perceiving half
        self._note = ""  # the perceiving half's word on motion, for the overlay
        self._present_ms = 0.0  # drawing and showing a frame, a running mean
        self._limit: int | None = None  # run()'s max_frames: a step never shows a frame past it
        self._restarts: list[float] = []  # when the perceiving process was started again
        # display.pipeline: "thread" perceives on a worker thread; "process" in the perceiver's own process
        # (edge/perceive/process.py: the frame is sent before this one is drawn, the faces collected after)
        self._on_thread = OnThread(lambda f: self._start(f).result()) if cfg.display.pipeline == "thread" else None
        self.overlap = Overlap(self._submit, self._show, self._on_thread is not None or self.perceiver.concurrent)
        if self._on_thread is not None:  # two halves in one process hand the GIL back and forth
            sys.setswitchinterval(SWITCH_INTERVAL_S)

    def step(self) -> list[str]:
        """One frame through every stage; returns the display's commands. With the halves overlapped
        (display.pipeline) the frame presented is the one read by the step before, unless the loop is
        ahead of its camera: then it is shown in its own step (edge/perceive/overlap.py)."""
        if self.source is None:  # step() driven by hand (the soak), without run()
            self._connect(threading.Event())
        t = time.monotonic()
        frame = self.source.read()
        t_cap, cpu0 = time.monotonic(), time.process_time() + self.perceiver.cpu_s()
        if frame is not None:
            self.stats.stage_ms["capture"].append((t_cap - t) * 1000)
        commands = self.overlap.step(frame)
        if self.pace and self.overlap.pending and not self._at_limit() and (frame_period(self.cfg.display.max_fps, self.source)
                                                   - (time.monotonic() - t_cap)) * 1000 > self._present_ms:
            # ahead of the camera: show this frame now, not with the next one (the halves overlap only
            # while the loop is behind, where they buy frames; ahead, they would only add latency)
            commands = (commands or []) + (self.overlap.flush() or [])
        if commands is None:  # the pipeline's first frame is on its way to the screen, or the source ended
            return ["end"] if frame is None else []
        # what the loop spent on this step (both halves when they overlap); writing --out frames is the
        # user's choice, not the mirror's work: it must not shed motion
        self._busy_ms = (time.monotonic() - t_cap) * 1000 - self._saved_ms
        self.stats.cpu_ms.append((time.process_time() + self.perceiver.cpu_s() - cpu0) * 1000)
        self.stats.dropped = getattr(self.source, "dropped", 0)
        return commands

    def _at_limit(self) -> bool:
        """run(max_frames) has shown them all: a step that just showed the frame before must not also
        show its own (--frames N writes N frames, not N + 1)."""
        return self._limit is not None and self.stats.frames >= self._limit

    def _submit(self, frame: Frame) -> Result[tuple[Frame, np.ndarray | None, Perceived]]:
        """Start the perceiving half on a frame (on the worker thread, if there is one); the frame stays here."""
        return self._on_thread(frame) if self._on_thread is not None else self._start(frame)

    def _start(self, frame: Frame) -> Later[tuple[Frame, np.ndarray | None, Perceived]]:
        image = as_bgr(frame.image_bgr)
        started = self.perceiver.submit(image, frame.t_capture, self._busy_ms)
        return Later(lambda: (frame, image, started.result()))

    def _show(self, perceived: tuple[Frame, np.ndarray | None, Perceived]) -> list[str]:
        """The presenting half, on the main thread: every statistic is written here."""
        frame, image, p = perceived
        for stage, v in p.stage_ms.items():
            self.stats.stage_ms[stage].append(v)
        self.stats.detected += p.detected
        self._note = p.note
        scene = Scene(faces=p.views, overlay=self._overlay() if self.show_fps else [],
                      camera_rgb=image[:, :, ::-1] if self.cfg.display.pip and image is not None else None)
        if self.booth is not None:
            self.booth.observe(frame, scene, image)
        commands = self._present(scene, time.monotonic())
        self.stats.latency_ms.append((self.stats.frame_times[-1] - frame.t_capture) * 1000)
        self.stats.frames += 1
        self.stats.frames_with_face += bool(p.faces)
        self.stats.faces_now = p.faces
        return commands

    def _present(self, scene: Scene, t0: float) -> list[str]:
        surface = self.renderer.render(scene, t0)
        rects = self.renderer.changed
        if self.booth is not None:
            surface = self.booth.decorate(surface)
            if self.booth.drew:  # on the renderer's screen: this frame goes out whole, the next is redrawn
                rects = None
                self.renderer.invalidate()
        t_render = time.monotonic()
        self.stats.stage_ms["render"].append((t_render - t0) * 1000)
        self.stats.warm_ms.append(getattr(self.renderer, "warm_ms", 0.0))
        commands = self.display.show(surface, rects)
        t_end = time.monotonic()
        self._saved_ms = getattr(self.display, "last_save_ms", 0.0)
        self.stats.stage_ms["display"].append((t_end - t_render) * 1000 - self._saved_ms)
        self._present_ms += 0.2 * ((t_end - t0) * 1000 - self._saved_ms - self._present_ms)
        self.stats.frame_times.append(t_end)
        for hook in self.on_present:
            hook(self.stats, scene)
        return commands

    def _overlay(self) -> list[str]:
        med = self.stats.medians()
        lines = [f"{self.stats.fps_recent():.1f} fps  faces {self.stats.faces_now}  dropped {self.stats.dropped}"]
        lines += [f"{s:<9} {med[s]:6.2f} ms" for s in STAGES]
        lines.append(f"latency  {self.stats.latency():6.2f} ms")
        if self._note:
            lines.append(self._note)
        return lines

    def close(self) -> None:
        """Let go of the source, the pipeline's worker and the perceiving process, if any (run() lets
        go of the source at its end; step() by hand needs this)."""
        self._drop_source()
        if self._on_thread is not None:
            self._on_thread.close()
        self.perceiver.close()

    def _restart_perceiver(self, error: PerceptionProcessError) -> None:
        """The perceiving process failed or ended (killed for memory, a crash in a library): start it
        again here, in about a second, rather than end the mirror and wait for systemd - unless it keeps
        failing (RESTARTS in RESTART_WINDOW_S), which is a fault to report, not to hide."""
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < RESTART_WINDOW_S] + [now]
        if not hasattr(self.perceiver, "restart") or len(self._restarts) > RESTARTS:
            raise error
        log.warning("%s; starting it again", error)
        self.overlap.drop()
        self.perceiver.restart()

    def _drop_source(self) -> None:
        self.overlap.drop()  # a frame perceived from a camera now gone is stale
        if self.source is not None:
            self.source.close()
            if self.source.alive:
                self._stuck.append(self.source)
            self.source = None

    def _connect(self, stop: threading.Event, lost: SourceError | None = None) -> None:
        """Open the source (at start, or again after `lost`); meanwhile the screen says why there
        is no picture and keeps being presented (which feeds the watchdog). A failed start is
        waited for only source_wait_s; a lost camera is waited for as long as it takes. Logs say
        it once and then once a minute, so a dead camera does not flood journald."""
        if lost is not None:
            log.warning("source lost: %s; reconnecting", lost)
            self._drop_source()
        message = "Camera lost - reconnecting..." if lost else "Waiting for the camera..."
        limit = None if lost is not None else self.source_wait_s
        t0, delay, failures, next_log = time.monotonic(), BACKOFF_S[0], 0, 0.0
        guard: GuardedSource | None = None
        while not stop.is_set():
            self._stuck = [g for g in self._stuck if g.alive]
            try:
                if guard is None:
                    if len(self._stuck) >= MAX_STUCK:
                        raise SourceError(f"{self._stuck[0].name}: its driver has not returned "
                                          f"for {time.monotonic() - self._stuck[0].started:.0f} s")
                    guard = GuardedSource(self._open_source, self.cfg.source.timeout_s, stop,
                                          name=self.cfg.source.input or "source")
                if guard.wait_opened(FIRST_WAIT_S if not (failures or lost) else delay):
                    self.source = guard
                    if failures or lost:
                        log.info("source %s is there after %.0f s", guard.name, time.monotonic() - t0)
                    return
            except SourceError as e:
                if guard is not None and guard.alive:
                    self._stuck.append(guard)  # an open that never returned
                guard = None
                failures += 1
                now = time.monotonic()
                if limit is not None and now - t0 >= limit:
                    raise
                if now >= next_log:
                    next_log = now + LOG_EVERY_S
                    log.warning("%s %s (%.0f s)", "still no source:" if lost else "waiting for the camera:", e, now - t0)
                if stop.wait(delay):
                    break
                delay = min(BACKOFF_S[1], delay * 2)
            commands = self._present(Scene(message=message), time.monotonic())
            if "quit" in commands:
                stop.set()
        if guard is not None:
            guard.close()

    def run(self, max_frames: int | None = None, stop: threading.Event | None = None) -> LoopStats:
        stop = stop or threading.Event()
        next_stats = time.monotonic() + STATS_EVERY_S
        self._limit = max_frames
        try:
            while not stop.is_set() and not self._at_limit():
                t = time.monotonic()
                try:
                    if self.source is None:
                        self._connect(stop)
                        continue
                    commands = self.step()
                except SourceError as e:
                    if self.source is None:  # the start failed and may not be waited for
                        raise
                    self._connect(stop, e)
                    continue
                except PerceptionProcessError as e:
                    self._restart_perceiver(e)
                    continue
                if "quit" in commands or "end" in commands:
                    break
                if "toggle_fps" in commands:
                    self.show_fps = not self.show_fps
                if "snapshot" in commands and self.booth is not None:
                    self.booth.press()
                now = time.monotonic()
                if now >= next_stats:
                    next_stats = now + STATS_EVERY_S
                    log.info("stats: %.1f fps, %d frames, %d with faces, %d dropped",
                             self.stats.fps_recent(), self.stats.frames, self.stats.frames_with_face,
                             self.stats.dropped)
                if self.pace:
                    stop.wait(max(0.0, frame_period(self.cfg.display.max_fps, self.source) - (now - t)))
        finally:
            self._limit = None
            self._drop_source()
        return self.stats
