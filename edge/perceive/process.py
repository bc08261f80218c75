"""The perceiving half of the frame loop in a process of its own (display.pipeline = "process").

Why a process: drawing (pygame's blits) holds Python's GIL for most of its time, so a perceiving
thread beside it gains little (edge/perceive/overlap.py); a process has its own interpreter, and the two halves
run side by side on two cores. The frame goes through a shared buffer (a memory file both map: one copy
each way, where the pipe took 0.9 ms for 640x480 on an idle machine and several with both cores busy)
and the faces to draw come back over a pipe (`Perceived`, a few hundred bytes). The mirror sends a frame
before it draws the one before and collects its faces after. The process is started with "spawn", not
forked from a process that has SDL and the camera open; it builds its own perception from the config,
ignores SIGINT and SIGTERM (the mirror ends it: it stops on the word or when the pipe closes), and
a failure there reaches the mirror as one line naming it.
"""
from __future__ import annotations

import logging
import mmap
import multiprocessing
import os
import signal
import tempfile
import traceback
from typing import TYPE_CHECKING, Callable

import numpy as np

from edge.config import Config, ConfigError
from edge.perceive.half import PerceptionProcessError
from edge.perceive.overlap import Later
from edge.runtime import ModelError

if TYPE_CHECKING:  # the mirror's side imports none of the perception (the CLI catches this module's error)
    from edge.perceive.half import Perceived

log = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0  # loading every model on a Pi takes seconds, not minutes
STOP_TIMEOUT_S = 5.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
KNOWN = {"ModelError": ModelError, "ConfigError": ConfigError}  # raised again as themselves in the mirror


def serve(make: Callable, cfg: Config, conn, threads: int | None, log_level: int, frames_path: str) -> None:
    """The child: build the perceiving half with `make(cfg, threads)` (edge/build.py's, passed in so
    this module needs nothing of the assembly), then perceive frames until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        fd = os.open(frames_path, os.O_RDONLY)
        perceiver = make(cfg, threads)
    except Exception as e:  # noqa: BLE001 - every failure goes to the mirror, which reports it
        conn.send(("error", type(e).__name__, str(e)))
        return
    conn.send(("ready", "", ""))
    shared: mmap.mmap | None = None
    while True:
        try:
            head = conn.recv()
        except (EOFError, OSError):  # the mirror is gone
            return
        if head is None:
            return
        t_capture, busy_ms, shape, dtype, mapped = head
        image = None
        if shape is not None:
            if shared is None or len(shared) != mapped:
                shared = mmap.mmap(fd, mapped, prot=mmap.PROT_READ)
            # a copy: the mirror writes the next frame there while this one's pieces may still be in use
            image = np.frombuffer(shared, dtype, int(np.prod(shape))).reshape(shape).copy()
        try:
            out = perceiver(image, t_capture, busy_ms)
        except Exception as e:  # noqa: BLE001
            conn.send(("error", f"{type(e).__name__}: {e}", traceback.format_exc()))
            continue
        conn.send(("ok", out, ""))


class RemotePerceiver:
    """Perceiver's interface (image, t_capture, busy_ms -> Perceived), run by a child process. One
    caller at a time."""

    concurrent = True  # submit() returns at once; the frame is perceived meanwhile

    def __init__(self, make: Callable, cfg: Config, threads: int | None = None,
                 start_timeout_s: float = START_TIMEOUT_S):
        """make(cfg, threads) -> the perceiving half, called in the child (a module-level function:
        it travels to the child by name)."""
        self._make = make
        self._args = (cfg, threads, start_timeout_s)
        self._id_base = self._last_id = 0
        self._start(cfg, threads, start_timeout_s)

    def restart(self) -> None:
        """A new process in place of one that failed or ended: everything it had followed is forgotten
        (the faces are found again within a frame or two). Its tracker numbers people from 1 again, so
        its ids are moved past every id handed out before: a new person is never taken for the one
        the old process numbered alike (the renderer's animation, a visit, a sticker's recording)."""
        self.close()
        self._id_base = self._last_id
        self._start(*self._args)

    def _start(self, cfg: Config, threads: int | None, start_timeout_s: float) -> None:
        # the frames go through a file in memory that only the two processes hold open: it is unlinked as
        # soon as the child has it, so nothing is left behind however either of them ends
        fd, path = tempfile.mkstemp(prefix="emoticon-frames-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        self._fd, self._shared = fd, None
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=serve, args=(self._make, cfg, child, threads, logging.getLogger().level, path),
                                 name="emoticon-perceive", daemon=True)
        try:
            self._proc.start()
            child.close()
            if not self._conn.poll(start_timeout_s):
                raise PerceptionProcessError(f"the perceiving process did not start within {start_timeout_s:.0f} s")
            kind, name, message = self._receive()
        except BaseException:
            self.close()
            raise
        finally:
            os.unlink(path)
        if kind == "error":
            self.close()
            raise KNOWN.get(name, PerceptionProcessError)(message)

    def submit(self, image: np.ndarray | None, t_capture: float, busy_ms: float | None) -> Later[Perceived]:
        """Hand the frame over and return at once; result() waits for its faces."""
        try:
            if image is None:
                self._conn.send((t_capture, busy_ms, None, None, 0))
            else:
                mapped = self._map(image.nbytes)
                np.frombuffer(self._shared, np.uint8, image.nbytes)[:] = np.ascontiguousarray(image).reshape(-1).view(np.uint8)
                self._conn.send((t_capture, busy_ms, image.shape, image.dtype.str, mapped))
        except (BrokenPipeError, OSError) as e:
            raise self._ended() from e
        return Later(self._collect)

    def __call__(self, image: np.ndarray | None, t_capture: float, busy_ms: float | None) -> Perceived:
        return self.submit(image, t_capture, busy_ms).result()

    def _map(self, nbytes: int) -> int:
        """The shared buffer, grown to hold nbytes (a frame larger than any before); its size."""
        if self._shared is None or len(self._shared) < nbytes:
            size = max(nbytes, 640 * 480 * 3)
            if self._shared is not None:
                self._shared.close()
            os.ftruncate(self._fd, size)
            self._shared = mmap.mmap(self._fd, size)
        return len(self._shared)

    def _collect(self) -> Perceived:
        kind, out, trace = self._receive()
        if kind == "error":
            log.debug("the perceiving process:\n%s", trace)
            raise PerceptionProcessError(f"the perceiving process failed: {out}")
        for view in out.views:
            view.track_id += self._id_base
            self._last_id = max(self._last_id, view.track_id)
        return out

    def _receive(self) -> tuple:
        try:
            return self._conn.recv()
        except (EOFError, OSError) as e:
            raise self._ended() from e

    def _ended(self) -> PerceptionProcessError:
        self._proc.join(1.0)
        return PerceptionProcessError(f"the perceiving process ended (exit code {self._proc.exitcode})")

    def cpu_s(self) -> float:
        """The process's CPU seconds so far (Linux: /proc; elsewhere 0), so that the loop's CPU figure
        counts both halves."""
        try:
            with open(f"/proc/{self._proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            return 0.0

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc.is_alive()

    def close(self) -> None:
        if self._proc.is_alive():
            try:
                self._conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            self._proc.join(STOP_TIMEOUT_S)
            if self._proc.is_alive():
                log.warning("the perceiving process did not stop; ending it")
                self._proc.terminate()
                self._proc.join(STOP_TIMEOUT_S)
        self._conn.close()
        if self._shared is not None:
            self._shared.close()
            self._shared = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
