"""systemd's notify protocol, spoken with the standard library (no python3-systemd needed).

READY=1 once the first frame is on screen (or the mirror starts waiting for its screen), WATCHDOG=1 from the frame loop itself (so a hung loop
stops the pings and systemd restarts the mirror), STATUS= with fps and faces, STOPPING=1 on
SIGTERM. Without $NOTIFY_SOCKET (not under systemd) every call is a no-op.
"""
from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger(__name__)

STATUS_EVERY_S = 5.0


class Notifier:
    def __init__(self, env: dict[str, str] | None = None):
        env = os.environ if env is None else env
        addr = env.get("NOTIFY_SOCKET", "")
        self._addr = "\0" + addr[1:] if addr.startswith("@") else addr  # '@' = abstract namespace
        self._sock: socket.socket | None = None
        if self._addr:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        usec = int(env.get("WATCHDOG_USEC", "0") or 0)
        # ping at a third of the interval: two pings may be lost before systemd gives up
        self.watchdog_every_s = usec / 3e6 if usec > 0 else 0.0
        self._ready = False
        self._last_ping = 0.0
        self._last_status = 0.0
        self._kind = ""
        self._failed = False

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, message: str) -> None:
        if self._sock is None:
            return
        try:
            # never block: a full socket queue (systemd busy, or a test not reading) must not
            # stop the frame loop; a lost ping is a smaller harm than a hung mirror
            self._sock.sendto(message.encode(), socket.MSG_DONTWAIT, self._addr)
        except OSError as e:
            if not self._failed:  # say it once; the mirror keeps running either way
                log.warning("cannot notify systemd at %s: %s", self._addr.lstrip("\0"), e)
                self._failed = True

    def frame_shown(self, fps: float, faces: int, message: str | None = None) -> None:
        """Called after every presented frame, including 'camera lost' screens: the loop is alive."""
        self.alive(message or f"{fps:.1f} fps, {faces} face(s)", message or "")

    def alive(self, status: str, kind: str = "") -> None:
        """The mirror is doing its job, showing frames or waiting for its screen or camera: READY=1
        the first time (a service that waits for a monitor to be switched on is up, not starting;
        systemd would otherwise kill it after TimeoutStartSec), then WATCHDOG=1 and STATUS= at
        their own rates; a new `kind` of status (a message instead of fps) is sent at once."""
        if self._sock is None:
            return
        now = time.monotonic()
        if not self._ready:
            self._ready = True
            self.send("READY=1")
        if self.watchdog_every_s and now - self._last_ping >= self.watchdog_every_s:
            self._last_ping = now
            self.send("WATCHDOG=1")
        if now - self._last_status >= STATUS_EVERY_S or kind != self._kind:
            self._last_status, self._kind = now, kind
            self.send(f"STATUS={status}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
