"""Every source opened and read on its own daemon thread, so a driver call can never hold the loop.

A Python signal handler runs only when the main thread comes back from C. A FIFO with no writer,
`/dev/tty0` or a wedged USB camera can block `open()` or `read()` for ever, and SIGTERM then did
nothing until systemd killed the mirror. Here the main thread only ever waits on a condition, in
short slices that watch the stop event, so a stop ends the mirror in well under 2 s whatever the
source is doing. A thread stuck in a driver is left behind (a daemon: it dies with the process);
the frame loop opens no new source while too many are stuck, so they cannot pile up.

Frames are pulled: the thread reads one frame when the loop asks for one. A file or the demo
therefore loses no frame, and a live camera's newest-frame slot stays the only buffer.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from edge.sources import Frame, Source, SourceError

log = logging.getLogger(__name__)

SLICE_S = 0.1  # how often a waiting loop looks at the stop event
CLOSE_S = 0.5  # how long close() waits for the thread to release the source
OPEN_S = 10.0  # an open that has not returned after this long counts as failed (a camera takes ~1-2 s)


class GuardedSource:
    """A source behind a thread. `wait_opened` and `read` never block longer than asked, and
    return early (False / None) once `stop` is set."""

    def __init__(self, open_source: Callable[[], Source], timeout_s: float, stop: threading.Event,
                 name: str = "source"):
        self.name = name
        self._open_source = open_source
        self._timeout_s = timeout_s
        self._stop = stop
        self._cond = threading.Condition()
        self._inner: Source | None = None
        self._error: SourceError | None = None
        self._wanted = False  # the loop asked for a frame the thread has not delivered yet
        self._frame: Frame | None = None
        self._ended = False
        self._closed = False
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"source:{name}", daemon=True)
        self._thread.start()

    # -------------------------------------------------------------------------------- the thread

    def _run(self) -> None:
        try:
            inner = self._open_source()
        except SourceError as e:
            self._finish(error=e)
            return
        except Exception as e:  # a driver's own exception must reach the loop as a lost source
            self._finish(error=SourceError(f"{self.name}: cannot open ({type(e).__name__}: {e})"))
            return
        with self._cond:
            self._inner = inner
            self.name = getattr(inner, "name", self.name)
            self._cond.notify_all()
        try:
            while True:
                with self._cond:
                    while not self._wanted and not self._closed:
                        self._cond.wait()
                    if self._closed:
                        return
                frame = inner.read()
                with self._cond:
                    self._wanted = False
                    self._frame, self._ended = frame, frame is None
                    self._cond.notify_all()
                if frame is None:
                    return
        except SourceError as e:
            self._finish(error=e)
        except Exception as e:
            self._finish(error=SourceError(f"{self.name}: camera lost ({type(e).__name__}: {e})"))
        finally:
            try:
                inner.close()
            except Exception:  # a dead driver may fail to close; the source is gone either way
                log.debug("closing %s failed", self.name, exc_info=True)

    def _finish(self, error: SourceError) -> None:
        with self._cond:
            self._error = error
            self._cond.notify_all()

    # -------------------------------------------------------------------------------- the loop's side

    @property
    def alive(self) -> bool:
        """The thread still runs: idle, or stuck in a driver call."""
        return self._thread.is_alive()

    @property
    def opening(self) -> bool:
        return self._inner is None and self._error is None

    @property
    def dropped(self) -> int:
        return getattr(self._inner, "dropped", 0)

    @property
    def fps(self) -> float | None:
        """The source's own frame rate when it has one to keep (files, the demo); cameras pace themselves."""
        return getattr(self._inner, "fps", None)

    def wait_opened(self, wait_s: float) -> bool:
        """True once open; False while still opening after wait_s (or on stop); the open's own
        SourceError once it failed, or when it has not returned for OPEN_S."""
        deadline = time.monotonic() + wait_s
        with self._cond:
            while True:
                if self._error is not None:
                    raise self._error
                if self._inner is not None:
                    return True
                if time.monotonic() - self.started >= max(OPEN_S, self._timeout_s):
                    raise SourceError(f"{self.name}: opening it has not returned for "
                                      f"{time.monotonic() - self.started:.0f} s")
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    return False
                self._cond.wait(min(SLICE_S, left))

    def read(self) -> Frame | None:
        """The next frame; None when the source ended or the mirror is stopping; SourceError when
        the source failed or gave nothing for timeout_s."""
        deadline = time.monotonic() + self._timeout_s
        with self._cond:
            if self._frame is None and not self._ended:
                self._wanted = True  # a request still pending from a timed-out read stays the one
                self._cond.notify_all()
            while self._frame is None:
                if self._ended or self._stop.is_set():
                    return None
                if self._error is not None:
                    raise self._error
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SourceError(f"{self.name}: no frame for {self._timeout_s:.1f} s")
                self._cond.wait(min(SLICE_S, left))
            frame, self._frame = self._frame, None
            return frame

    def close(self) -> None:
        """Blocks at most CLOSE_S: an idle thread closes the source and ends (waited for: a
        process that exits while OpenCV releases a capture on another thread aborts in C++); a
        stuck one is left to do so if its driver call ever returns."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            opened = self._inner is not None
        if opened:  # a thread still in the driver's open() holds no capture to release
            self._thread.join(CLOSE_S)
