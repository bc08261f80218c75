"""The perceiving half in a process of its own: the same faces as in this process, and every way it can
fail ends as one clear error, never a hang."""
from __future__ import annotations

import numpy as np
import pytest

from edge import build
from edge.config import Config, ConfigError
from edge.perceive.half import PerceptionProcessError


def test_the_process_sees_what_this_process_sees(portraits):
    """Frame by frame the same faces, also when a frame is larger than any before (the shared buffer
    grows: 1280x720 after 640x480 and smaller) and when there is no frame."""
    import cv2

    local = Config()
    local.display.pipeline = "off"
    here, there = build.perceiver(local, 1), build.remote_perceiver(Config(), 1)
    try:
        assert there.concurrent and not here.concurrent
        hopper, astronaut = portraits["grace_hopper.jpg"], portraits["astronaut.png"]
        wide = cv2.copyMakeBorder(astronaut, 104, 104, 384, 384, cv2.BORDER_REPLICATE)
        assert wide.shape == (720, 1280, 3) and wide.nbytes > 640 * 480 * 3 >= hopper.nbytes
        frames = [hopper] * 3 + [astronaut] * 2 + [wide] * 2 + [astronaut] + [None]
        for i, image in enumerate(frames):
            started = there.submit(image, i / 30, 20.0)  # returns before the faces are there
            a, b = here(image, i / 30, 20.0), started.result()
            assert (a.faces, a.views, a.note, a.detected) == (b.faces, b.views, b.note, b.detected)
            assert b.faces == (image is not None), i
        assert b.faces == 0 and a.faces == 0  # the last frame was no frame at all
        assert there.cpu_s() > 0  # its CPU time is read, for the loop's CPU figure
    finally:
        there.close()
        here.close()
    assert not there.alive


def test_a_config_the_process_cannot_build_from_is_the_same_error_here(tmp_path):
    cfg = Config()
    cfg.classify.models_dir = str(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="not a folder"):
        build.remote_perceiver(cfg, 1)


def test_a_process_that_died_is_an_error_naming_it_not_a_hang(portraits):
    there = build.remote_perceiver(Config(), 1)
    try:
        there._proc.kill()
        there._proc.join(5)
        with pytest.raises(PerceptionProcessError, match="ended"):
            there(portraits["astronaut.png"], 0.0, None)
    finally:
        there.close()


def test_a_failure_while_perceiving_is_one_line_and_the_process_goes_on(portraits):
    there = build.remote_perceiver(Config(), 1)
    try:
        with pytest.raises(PerceptionProcessError, match="failed: .*Error") as e:
            there(np.zeros((480, 640), np.uint8), 0.0, None)  # not a BGR frame: the mirror converts first
        assert "\n" not in str(e.value)
        assert there(portraits["astronaut.png"], 0.1, None).faces == 1
    finally:
        there.close()


def test_auto_perceives_here_when_no_process_can_be_started(monkeypatch, caplog):
    """A sandbox or a memory limit that will not have a second process: the kiosk still runs."""
    def refuse(*args, **kwargs):
        raise PerceptionProcessError("the perceiving process ended (exit code 1)")

    monkeypatch.setattr("edge.perceive.process.RemotePerceiver", refuse)
    cfg = Config()
    assert cfg.display.pipeline == "auto"
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    with caplog.at_level("WARNING"):
        here = build.perceiver(cfg, 1)
    assert not here.concurrent and "perceiving in this process" in caplog.text
    cfg.display.pipeline = "process"  # asked for by name: the error stands
    with pytest.raises(PerceptionProcessError):
        build.perceiver(cfg, 1)


def test_the_mirror_starts_a_perceiving_process_again_when_it_dies_and_stops_when_it_keeps_dying(portraits, caplog):
    """A kiosk runs for days: a perceiving process killed (for memory, by a crash in a library) is started
    again within the loop, the faces come back; one that keeps dying ends the run with its error."""
    import os
    import signal

    from edge.app import RESTARTS, Mirror
    from edge.sources.memory import MemorySource
    from fakes import NullDisplay, RecordingRenderer

    cfg = Config()
    there = build.remote_perceiver(cfg, 1)
    renderer = RecordingRenderer()
    m = Mirror(cfg, lambda: MemorySource([portraits["astronaut.png"]]), there, renderer, NullDisplay(), pace=False)
    try:
        m.run(3)
        before = {f.track_id for s in renderer.scenes for f in s.faces}
        os.kill(there.pid, signal.SIGKILL)
        with caplog.at_level("WARNING"):
            stats = m.run(8)
        assert stats.frames >= 8 and there.alive and "starting it again" in caplog.text
        assert renderer.scenes[-1].faces  # found again
        # under an id none of the old process's faces had: the new process numbers people from 1 again
        assert min(f.track_id for f in renderer.scenes[-1].faces) > max(before), (before, renderer.scenes[-1].faces)
        with pytest.raises(PerceptionProcessError, match="ended"):
            for _ in range(RESTARTS + 1):
                os.kill(there.pid, signal.SIGKILL)
                m.run(m.stats.frames + 2)
    finally:
        m.close()
