"""The mirror speaks systemd's notify protocol: READY, a steady watchdog, STOPPING and a quick exit."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from conftest import REPO


def test_ready_watchdog_and_stopping_over_a_fake_notify_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    watchdog_usec = 3_000_000
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(watchdog_usec), "SDL_VIDEODRIVER": "dummy",
           "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "edge", "run", "--source", "demo", "--display", "headless"],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    messages: list[tuple[float, str]] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                messages.append((time.monotonic(), sock.recv(4096).decode()))
            except socket.timeout:
                pass
            ready = [t for t, m in messages if m == "READY=1"]
            if ready and time.monotonic() - ready[0] > watchdog_usec / 1e6:
                break
        assert proc.poll() is None, proc.stderr.read()
        ready_t = next(t for t, m in messages if m == "READY=1")
        pings = [t for t, m in messages if m == "WATCHDOG=1" and ready_t <= t <= ready_t + watchdog_usec / 1e6]
        assert len(pings) >= 3
        assert any(m.startswith("STATUS=") and "fps" in m for _, m in messages)
        t_term = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=5)
        elapsed = time.monotonic() - t_term
        while True:
            try:
                messages.append((time.monotonic(), sock.recv(4096).decode()))
            except socket.timeout:
                break
        assert "STOPPING=1" in [m for _, m in messages]
        assert proc.returncode == 0
        assert elapsed < 2.0
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()


def test_a_full_notify_socket_never_blocks_the_mirror(tmp_path):
    """Nobody reads the socket (a busy systemd): the queue fills, and sending must still return."""
    import threading

    from edge.notify import Notifier

    path = str(tmp_path / "deaf.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    notifier = Notifier({"NOTIFY_SOCKET": path})
    sender = threading.Thread(target=lambda: [notifier.send("WATCHDOG=1") for _ in range(200)], daemon=True)
    sender.start()
    sender.join(10)  # a hang detector, not a speed target
    assert not sender.is_alive()
    notifier.close()
    sock.close()
