"""Waiting for the screen: a kiosk that boots before its monitor is on must not give up.

Under systemd a mirror that exits because the KMS screen is not there yet is restarted every 3 s,
and `StartLimitBurst` then leaves the service failed for good. So the service waits: it says what
it waits for in the journal (once, then once a minute) and in `systemctl status` (STATUS=), keeps
the watchdog fed, and starts as soon as the screen opens. A person at a terminal gets the error at
once instead. The camera is waited for by the frame loop itself (edge.app), which has a screen to
say so on.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, TypeVar

from edge.notify import Notifier

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_S = 2.0  # how often the screen is tried again
LOG_EVERY_S = 60.0
AUTO = -1.0  # the config's `wait_s` default


def wait_limit(wait_s: float, under_systemd: bool) -> float | None:
    """A config `wait_s` as seconds to wait: None = for ever, 0 = fail at once. The default (-1)
    waits for ever when systemd runs the mirror ($NOTIFY_SOCKET set) and fails at once otherwise."""
    if wait_s == AUTO:
        return None if under_systemd else 0.0
    return float(wait_s)


def wait_for(what: str, attempt: Callable[[], T], errors: tuple[type[Exception], ...], limit_s: float | None,
             stop: threading.Event, notifier: Notifier, retry_s: float = RETRY_S) -> T | None:
    """attempt() until it stops raising one of `errors`; None when stopped meanwhile. The last
    error is raised once limit_s has passed (at once with 0)."""
    t0, next_log = time.monotonic(), 0.0
    while True:
        try:
            return attempt()
        except errors as e:
            now = time.monotonic()
            if limit_s is not None and now - t0 >= limit_s:
                raise
            if now >= next_log:
                next_log = now + LOG_EVERY_S
                log.warning("waiting for the %s (%.0f s so far): %s", what, now - t0, e)
            status = f"Waiting for the {what}: {e}"
        until = time.monotonic() + retry_s
        while True:  # feed the watchdog while waiting; a stop ends the wait within a slice
            notifier.alive(status, kind=status)
            left = until - time.monotonic()
            if left <= 0:
                break
            if stop.wait(min(left, notifier.watchdog_every_s or left)):
                return None
