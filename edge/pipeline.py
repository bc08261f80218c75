"""The frame loop's two halves overlapped (display.pipeline): the next frame is perceived on a worker
thread while this one is drawn and shown.

Why it is there: perceiving (detector, classifiers, face mesh) and drawing full screen each take a large
share of a frame, and LiteRT's invoke releases the GIL (two threads of face meshes run 1.8x as fast as
one on two cores), so a slow loop could run at the rate of its slower half instead of the sum of both.
Why it is off by default: pygame's blits keep the GIL, and they are most of the drawing (py-spy --gil:
the drawing half holds it for ~74% of the time anybody does), so the halves mostly wait for each other:
measured at 2 cores, +0-12% frames a second for one frame more between capture and screen (README,
"Frame loop pipeline"). Data still flows one way: perceive (the worker) -> present (the main thread,
where SDL's video calls must stay); the worker touches nothing the main thread uses meanwhile.
"""
from __future__ import annotations

import sys
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Callable, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
Out = TypeVar("Out")

# With both halves running, each waits for the other's hold on the GIL (pygame's blits keep it); a
# shorter switch interval than Python's 5 ms hands it over sooner: measured best of 0.1, 0.5, 2 and 5 ms.
SWITCH_INTERVAL_S = 0.0005


class Overlap(Generic[Item, Result, Out]):
    """Runs perceive(item) -> result -> present(result), one item a call. Overlapped, a call presents
    the result of the item before while perceiving its own, so the first call presents nothing and
    the call after the last item (item None) presents the last result. Not overlapped, a call is
    simply present(perceive(item))."""

    def __init__(self, perceive: Callable[[Item], Result], present: Callable[[Result], Out], on: bool):
        self._perceive, self._present, self.on = perceive, present, on
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Result | None = None  # perceived, not presented yet

    def step(self, item: Item | None) -> Out | None:
        """What present() returned, or None when nothing was presented (the first overlapped call, or
        no item and nothing pending)."""
        if not self.on:
            return None if item is None else self._present(self._perceive(item))
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="perceive")
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        future: Future | None = self._pool.submit(self._perceive, item) if item is not None else None
        pending, self._pending = self._pending, None
        try:
            out = self._present(pending) if pending is not None else None
        except BaseException:
            if future is not None:  # the worker never runs on into the caller's handling of this
                wait([future])
            raise
        self._pending = future.result() if future is not None else None  # the worker's exception, if any
        return out

    def drop(self) -> None:
        """Forget what was perceived and not presented (the camera was lost: it is stale)."""
        self._pending = None

    def close(self) -> None:
        self._pending = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
