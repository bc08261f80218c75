"""A kiosk that boots before its screen or camera waits for them, says so to systemd and the
journal, feeds the watchdog, and starts when they appear; a stop ends the wait."""
from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO
from edge.display import DisplayError
from edge.notify import Notifier
from edge.waiting import wait_for, wait_limit
from fakes import tiny_video


class FakeNotifySocket:
    """systemd's side of sd_notify: a unix datagram socket collecting every message."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                return self.messages

    def close(self):
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path):
    s = FakeNotifySocket(tmp_path / "notify.sock")
    yield s
    s.close()


class LateScreen:
    """A screen that is switched on at the third attempt."""

    def __init__(self):
        self.attempts = 0

    def __call__(self):
        self.attempts += 1
        if self.attempts < 3:
            raise DisplayError("display mode 'fullscreen' is not available here (kmsdrm not available)")
        return "the screen"


def test_wait_limit_is_forever_only_under_systemd():
    assert wait_limit(-1, under_systemd=True) is None
    assert wait_limit(-1, under_systemd=False) == 0
    assert wait_limit(30, under_systemd=False) == 30
    assert wait_limit(0, under_systemd=True) == 0


def test_the_screen_is_waited_for_with_status_and_watchdog(notify_socket, caplog):
    notifier = Notifier({"NOTIFY_SOCKET": notify_socket.path, "WATCHDOG_USEC": "150000"})
    screen = LateScreen()
    with caplog.at_level(logging.WARNING, logger="edge.waiting"):
        got = wait_for("screen", screen, (DisplayError,), None, threading.Event(), notifier, retry_s=0.1)
    assert got == "the screen" and screen.attempts == 3
    messages = notify_socket.drain()
    assert messages[0] == "READY=1"  # up and waiting: TimeoutStartSec must not kill it
    assert any(m.startswith("STATUS=Waiting for the screen: ") and "kmsdrm" in m for m in messages)
    assert messages.count("WATCHDOG=1") >= 2
    waits = [r.getMessage() for r in caplog.records if "waiting for the screen" in r.getMessage()]
    assert len(waits) == 1  # once, not on every retry
    notifier.close()


def test_a_stop_ends_the_wait_and_a_limit_ends_it_with_the_error():
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    never = LateScreen()
    never.attempts = -10**9
    assert wait_for("screen", never, (DisplayError,), None, stop, Notifier({}), retry_s=60) is None
    with pytest.raises(DisplayError, match="kmsdrm"):
        wait_for("screen", LateScreen(), (DisplayError,), 0, threading.Event(), Notifier({}))


def test_the_service_waits_for_a_camera_that_appears_late(tmp_path, notify_socket):
    """The whole mirror under a fake systemd: no camera at start, one plugged in later."""
    clip = tmp_path / "camera.avi"
    env = {**os.environ, "NOTIFY_SOCKET": notify_socket.path, "WATCHDOG_USEC": "1500000",
           "SDL_VIDEODRIVER": "dummy", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "edge", "run", "--source", str(clip), "--display", "headless"],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not any(m.startswith("STATUS=Waiting for the camera") for m in notify_socket.drain()):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, notify_socket.messages
        waiting_since = len(notify_socket.messages)
        time.sleep(2.0)  # still waiting, and alive for the watchdog
        assert proc.poll() is None
        assert "WATCHDOG=1" in notify_socket.drain()[waiting_since:]
        tiny_video(tmp_path / "partial.avi", 30)
        shutil.move(tmp_path / "partial.avi", clip)  # the camera appears
        while not any("fps" in m for m in notify_socket.drain() if m.startswith("STATUS=")):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, notify_socket.messages
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert err.count("waiting for the camera") == 1
        assert "is there after" in err
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("loop", [False, True])
def test_a_video_under_systemd_plays_on_at_its_end(tmp_path, notify_socket, loop):
    """A kiosk's clip that ended the run (exit 0) was started again by systemd until its start limit
    left the service failed. Under systemd a video loops, whatever source.loop says, said once."""
    import json

    tiny_video(tmp_path / "clip.avi", 12)
    (tmp_path / "c.toml").write_text(f"[source]\nloop = {str(loop).lower()}\n")
    env = {**os.environ, "NOTIFY_SOCKET": notify_socket.path, "SDL_VIDEODRIVER": "dummy", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "edge", "--config", str(tmp_path / "c.toml"), "run", "--source",
                           str(tmp_path / "clip.avi"), "--display", "headless", "--unpaced", "--frames", "40"],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["frames"] == 40  # 12 frames, played over and over
    assert proc.stderr.count("plays on at its end") == (0 if loop else 1), proc.stderr
