"""The frame loop end to end with fakes at the edges: bad frames, many faces, a camera that fails."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from edge.app import Mirror
from edge.perceive.classify import ClassifierSet
from edge.config import Config
from edge.perceive.perception import Perception
from edge.render import Renderer
from edge.sources import SourceError
from edge.sources.memory import MemorySource
from edge.state import Face
from fakes import NullDisplay, RecordingRenderer  # noqa: F401


class ManyFacesDetector:
    """A fake detector that sees 30 faces of growing size."""

    def detect(self, frame):
        return sorted((Face(np.array([10 * i, 10, 5 + i, 5 + i], np.float32), 0.9, np.zeros((6, 2), np.float32))
                       for i in range(30)), key=lambda f: -f.area)


def no_models(tmp_path, skin_tone: bool = False):
    return ClassifierSet(tmp_path, skin_tone=skin_tone)  # an empty folder: no manifest, no classifiers


def mirror_for(frames, detector, tmp_path, cfg=None):
    renderer = RecordingRenderer()
    display = NullDisplay()
    m = Mirror(cfg or Config(), lambda: MemorySource(frames), Perception(detector, no_models(tmp_path)), renderer,
               display, pace=False)
    return m, renderer, display


BAD_FRAMES = [
    np.zeros((0, 0, 3), np.uint8),
    np.zeros((1, 1, 3), np.uint8),
    np.zeros((7, 3, 3), np.uint8),
    np.zeros((480, 640), np.uint8),
    np.zeros((480, 640, 1), np.uint8),
    np.zeros((480, 640, 4), np.uint8),
    np.zeros((480, 640, 3), np.uint16),
    np.zeros((480, 640, 3), np.float32),
    np.zeros((480, 640, 5), np.uint8),
    np.zeros((3000, 4000, 3), np.uint8),
]


@pytest.mark.parametrize("pipeline", ["off", "process"])
def test_bad_frames_never_crash_the_loop(detector, tmp_path, portraits, pipeline):
    """Also with the perceiving process: a 4000x3000 frame grows the frame buffer it shares."""
    frames = BAD_FRAMES + [portraits["astronaut.png"]]
    if pipeline == "process":
        from edge import build

        cfg = Config()
        cfg.classify.models_dir = str(tmp_path)  # no models, as mirror_for has it
        renderer, display = RecordingRenderer(), NullDisplay()
        m = Mirror(cfg, lambda: MemorySource(frames, loop=False), build.remote_perceiver(cfg, 1), renderer, display,
                   pace=False)
    else:
        m, renderer, display = mirror_for(frames, detector, tmp_path)
    try:
        stats = m.run(len(frames))
    finally:
        m.close()
    assert stats.frames == len(frames) and display.shown == len(frames)
    assert stats.frames_with_face == 1  # only the portrait
    assert len(renderer.scenes[-1].faces) == 1


def test_only_the_largest_faces_are_kept(tmp_path):
    cfg = Config()
    cfg.detector.max_faces = 4
    m, renderer, _ = mirror_for([np.zeros((480, 640, 3), np.uint8)], ManyFacesDetector(), tmp_path, cfg)
    m.run(3)
    assert len(renderer.scenes[-1].faces) == 4


def test_neutral_emoticon_without_models(detector, tmp_path, portraits):
    m, renderer, _ = mirror_for([portraits["grace_hopper.jpg"]], detector, tmp_path)
    m.run(2)
    state = renderer.scenes[-1].faces[0].state
    assert state.expression == "neutral" and state.tone == "yellow" and not state.mask


def test_measured_skin_tone_reaches_the_emoticon(detector, tmp_path, portraits):
    renderer = RecordingRenderer()
    m = Mirror(Config(), lambda: MemorySource([portraits["astronaut.png"]]),
               Perception(detector, no_models(tmp_path, skin_tone=True)), renderer, NullDisplay(), pace=False)
    m.run(3)
    assert renderer.scenes[-1].faces[0].state.tone in ("light", "medium_light", "medium")


@pytest.mark.parametrize("pipeline, opened", [("off", 4), ("thread", 5)])
def test_a_lost_camera_shows_a_message_and_comes_back(detector, tmp_path, portraits, monkeypatch, pipeline, opened):
    """Overlapped, each camera's last frame is on its way when it is lost: 2 of its 3 reach the screen
    (a frame perceived from a camera now gone is stale), so one camera more is opened for 6 frames."""
    monkeypatch.setattr("edge.app.BACKOFF_S", (0.01, 0.05))
    opens = {"n": 0}

    class Flaky:
        """Gives 3 frames, then fails; the first two reconnects fail too."""

        name = "flaky"

        def __init__(self):
            opens["n"] += 1
            if 2 <= opens["n"] <= 3:
                raise SourceError("flaky: camera not available")
            self.left = 3

        def read(self):
            if self.left == 0:
                raise SourceError("flaky: camera lost")
            self.left -= 1
            from edge.sources import Frame
            return Frame(portraits["astronaut.png"], 0.0, 0)

        def close(self):
            pass

    cfg = Config()
    cfg.display.pipeline = pipeline
    renderer, display = RecordingRenderer(), NullDisplay()
    m = Mirror(cfg, Flaky, Perception(detector, no_models(tmp_path)), renderer, display, pace=False)
    stats = m.run(6, threading.Event())
    m.close()
    assert stats.frames == 6 and opens["n"] == opened
    messages = [s.message for s in renderer.scenes if s.message]
    assert messages and "Camera lost" in messages[0]
    assert renderer.scenes[-1].message is None and renderer.scenes[-1].faces


def test_stop_event_ends_the_loop(detector, tmp_path, portraits):
    m, _, _ = mirror_for([portraits["astronaut.png"]], detector, tmp_path)
    stop = threading.Event()
    stop.set()
    assert m.run(None, stop).frames == 0


# ------------------------------------------------------------------------------------------ live motion


@pytest.fixture(scope="module")
def mesh():
    from edge.perceive.landmarks import FaceMesh

    return FaceMesh(threads=1)


def test_live_motion_reaches_the_scene_and_can_be_switched_off(detector, tmp_path, portraits, mesh):
    for mode, live in (("on", True), ("auto", True), ("off", False)):
        cfg = Config()
        cfg.motion.mode = mode
        renderer = RecordingRenderer()
        m = Mirror(cfg, lambda: MemorySource([portraits["grace_hopper.jpg"]]),
                   Perception(detector, no_models(tmp_path), mesh), renderer, NullDisplay(), pace=False)
        m.run(3)
        motion = renderer.scenes[-1].faces[0].motion
        assert (motion is not None) == live, mode
        if live:
            assert motion.eye_open_left > 0.5 and motion.mouth_open < 0.25


def test_overlay_says_when_motion_is_shed(detector, tmp_path, portraits, mesh):
    cfg = Config()
    cfg.display.show_fps = True
    renderer = RecordingRenderer()
    m = Mirror(cfg, lambda: MemorySource([portraits["astronaut.png"]]), Perception(detector, no_models(tmp_path), mesh),
               renderer, NullDisplay(), pace=False)
    m.perceiver.motion.budget_ms = 0.001  # every frame is over budget
    m.run(35)
    assert any("motion paused" in line for line in renderer.scenes[-1].overlay)
    time.sleep(0.4)  # past the hold time of the last pose
    m.run(37)
    assert renderer.scenes[-1].faces[0].motion is None  # expression only
    assert any(line.startswith("latency") for line in renderer.scenes[-1].overlay)


def test_blendshapes_reach_the_largest_face_and_can_be_switched_off(portraits):
    from edge import build
    from edge.perceive.blendshapes import NAMES

    for faces_with_shapes in (1, 0):
        cfg = Config()
        cfg.motion.mode, cfg.motion.blendshapes = "on", faces_with_shapes
        renderer = RecordingRenderer()
        m = build.mirror(cfg, lambda: MemorySource([portraits["astronaut.png"]]), renderer, NullDisplay(), pace=False)
        m.run(4)
        m.close()
        face = renderer.scenes[-1].faces[0]
        assert face.motion is not None
        if faces_with_shapes:
            assert set(face.shapes) == set(NAMES) and face.shapes["mouthSmileLeft"] > 0.3  # she smiles
        else:
            assert face.shapes is None


def test_frame_period_keeps_the_source_rate():
    from edge.app import frame_period

    assert frame_period(30, MemorySource([], fps=10)) == pytest.approx(0.1)
    assert frame_period(30, MemorySource([], fps=60)) == pytest.approx(1 / 30)  # display.max_fps caps it
    assert frame_period(30, MemorySource([])) == pytest.approx(1 / 30)  # a camera paces itself


def test_writing_out_frames_does_not_shed_motion(detector, tmp_path, portraits, mesh, monkeypatch):
    """Saving PNGs (--out) is slow, but it is not the mirror's work: motion must stay on."""
    import pygame

    from edge.config import DisplayConfig
    from edge.display import Display

    save = pygame.image.save

    def slow_save(surface, path, *namehint):
        time.sleep(0.12)  # a slow SD card: longer than the whole motion budget below
        save(surface, path, *namehint)

    monkeypatch.setattr(pygame.image, "save", slow_save)
    cfg = Config()
    cfg.motion.min_fps = 10  # budget 100 ms
    display = Display(DisplayConfig(mode="headless", width=320, height=180), "headless", str(tmp_path / "out"))
    try:
        m = Mirror(cfg, lambda: MemorySource([portraits["astronaut.png"]]),
                   Perception(detector, no_models(tmp_path), mesh), Renderer(display.size), display, pace=False)
        m.run(35)
    finally:
        display.close()
    assert display.saved == 35
    assert "paused" not in m.perceiver.motion.note


def test_a_short_soak_takes_its_memory_baseline_after_warm_up():
    from edge.commands.bench import run_soak

    cfg = Config()
    cfg.motion.mode = "off"
    report = run_soak(cfg, 60)
    assert report["rss_after_warmup_mb"] > 50  # taken (after 12 frames), not the 0.0 of 'never'
    assert report["exceptions"] == 0


# ------------------------------------------------------------------------------------------ pipeline


def _faces_shown(scenes):
    return [[(v.track_id, v.state, round(v.center_x, 4), None if v.motion is None else round(v.motion.mouth_open, 4))
             for v in s.faces] for s in scenes if s.message is None]


def test_the_pipelined_loop_shows_what_the_loop_in_sequence_shows(portraits):
    """Same frames, same camera clock: every frame reaches the screen, with the same faces, either way."""
    from edge import build

    frames = [portraits["grace_hopper.jpg"]] * 6 + [portraits["astronaut.png"]] * 6
    shown = {}
    for pipeline in ("off", "thread", "process"):
        cfg = Config()
        cfg.motion.mode, cfg.motion.turns_when_busy, cfg.display.pipeline = "on", False, pipeline
        renderer, display = RecordingRenderer(), NullDisplay()
        m = build.mirror(cfg, lambda: MemorySource(frames, loop=False, fps=30, camera_clock=True),
                         renderer, display, pace=False)
        stats = m.run()
        m.close()
        assert stats.frames == display.shown == len(frames) and m.overlap.on == (pipeline != "off")
        assert type(m.perceiver).__name__ == ("RemotePerceiver" if pipeline == "process" else "Perceiver")
        shown[pipeline] = _faces_shown(renderer.scenes)
    assert sum(map(len, shown["off"])) >= len(frames)  # somebody on every frame
    assert shown["thread"] == shown["off"] and shown["process"] == shown["off"]


def test_a_pipelined_loop_ahead_of_its_camera_shows_each_frame_before_the_next(portraits):
    """Paced at 10 fps, the loop has time to spare: each frame is shown in its own frame interval, not
    held back to be shown with the next (overlapping only pays while the loop is behind the camera)."""
    from edge import build

    for pipeline in ("thread", "process"):
        cfg = Config()
        cfg.display.pipeline = pipeline
        renderer, display = RecordingRenderer(), NullDisplay()
        m = build.mirror(cfg, lambda: MemorySource([portraits["astronaut.png"]], fps=10), renderer, display)
        try:
            stats = m.run(6)
        finally:
            m.close()
        assert m.overlap.on and stats.frames == 6
        assert stats.latency() < 75, (pipeline, stats.latency())  # well within its camera interval (100 ms)


def test_a_step_that_catches_up_does_not_show_a_frame_past_the_last(portraits):
    """--frames N is N frames. A step that shows the frame before (the loop was behind its camera) and
    then finds itself ahead shows its own frame too: two in one step, one past N before the fix."""
    from edge import build

    for n in (1, 3):
        cfg = Config()
        cfg.display.pipeline = "thread"
        renderer = RecordingRenderer()
        m = build.mirror(cfg, lambda: MemorySource([portraits["astronaut.png"]], fps=10), renderer, NullDisplay())
        m._present_ms = 1e9  # behind its camera at first: the first frame waits for the next step
        m.on_present.append(lambda stats, scene: setattr(m, "_present_ms", 0.0))  # then ahead of it
        try:
            stats = m.run(n)
        finally:
            m.close()
        assert stats.frames == n == len(renderer.scenes), (n, stats.frames, len(renderer.scenes))


def test_a_source_whose_opening_never_returns_is_named(detector, tmp_path, monkeypatch):
    """A FIFO as source: its opening never returns, and the error said "source: ..."; it names the
    source the exhibitor gave."""
    monkeypatch.setattr("edge.sources.guarded.OPEN_S", 0.3)
    cfg = Config()
    cfg.source.input = str(tmp_path / "feed")
    never = threading.Event()

    def blocks():
        never.wait(5)
        raise SourceError("unreachable")

    m = Mirror(cfg, blocks, Perception(detector, no_models(tmp_path)), RecordingRenderer(), NullDisplay(), pace=False)
    with pytest.raises(SourceError, match=f"^{tmp_path / 'feed'}: opening it has not returned"):
        m.run(1)
    never.set()
