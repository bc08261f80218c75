"""The frame loop's two halves overlapped (display.pipeline): the next frame is perceived while this one
is drawn and shown, on a worker thread ("thread") or in a process of its own ("process", edge/perceive/process.py).

Why: perceiving (detector, classifiers, face mesh) and drawing full screen each take a large share of a
frame, so a loop slower than its camera could run at the rate of its slower half instead of the sum of
both. A thread gains little: LiteRT's invoke releases the GIL (two threads of face meshes run 1.8x as
fast as one on two cores), but pygame's blits keep it, and they are most of the drawing (py-spy --gil:
the drawing half holds it ~74% of the time anybody does), so the halves mostly wait for each other
(+0-12% frames a second at 2 cores, 4-5 ms more latency). A process has its own GIL: +28-30% with one
face, +57% with four, latency within 2 ms (docs/benchmarks.md). Data still flows one way: perceive ->
present (the main thread, where SDL's video calls must stay); the perceiving side touches nothing the
main thread uses meanwhile.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Generic, Protocol, TypeVar

Item = TypeVar("Item")
T = TypeVar("T")
Out = TypeVar("Out")

# With both halves in one process ("thread"), each waits for the other's hold on the GIL (pygame's blits
# keep it); a shorter switch interval than Python's 5 ms hands it over sooner: measured best of 0.1, 0.5,
# 2 and 5 ms. With the perceiving process it changes nothing (flat out, 0.5 against 5 ms: one face 92-98
# against 93-94 fps, four faces 70-72 against 70-71), so it is left as Python has it there.
SWITCH_INTERVAL_S = 0.0005


class Result(Protocol[T]):
    def result(self) -> T: ...


class Ready(Generic[T]):
    """A result there already (perceived in this thread), for Overlap's interface."""

    def __init__(self, value: T):
        self._value = value

    def result(self) -> T:
        return self._value


class Later(Generic[T]):
    """A result collected when asked for (edge/perceive/process.py: the reply of the perceiving process)."""

    def __init__(self, collect: Callable[[], T]):
        self._collect = collect

    def result(self) -> T:
        return self._collect()


class OnThread(Generic[Item, T]):
    """fn run on one worker thread: submit(item) -> a Future."""

    def __init__(self, fn: Callable[[Item], T]):
        self._fn = fn
        self._pool: ThreadPoolExecutor | None = None

    def __call__(self, item: Item) -> Future:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="perceive")
        return self._pool.submit(self._fn, item)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


class Overlap(Generic[Item, T, Out]):
    """submit(item) starts perceiving an item and returns what gives its result; present(result) shows
    it. Overlapped, a call presents the result of the item before while its own is being perceived, so
    the first call presents nothing and the call after the last item (item None) presents the last
    result. Not overlapped, a call is present(submit(item).result())."""

    def __init__(self, submit: Callable[[Item], Result[T]], present: Callable[[T], Out], on: bool):
        self._submit, self._present, self.on = submit, present, on
        self._pending: T | None = None  # perceived, not presented yet

    def step(self, item: Item | None) -> Out | None:
        """What present() returned, or None when nothing was presented (the first overlapped call, or
        no item and nothing pending)."""
        if not self.on:
            return None if item is None else self._present(self._submit(item).result())
        started = self._submit(item) if item is not None else None
        pending, self._pending = self._pending, None
        try:
            out = self._present(pending) if pending is not None else None
        except BaseException:
            if started is not None:  # perceiving never runs on into the caller's handling of this
                try:
                    started.result()
                except Exception:  # noqa: BLE001 - the presenting error is the one to raise
                    pass
            raise
        self._pending = started.result() if started is not None else None  # perceiving's error, if any
        return out

    @property
    def pending(self) -> bool:
        return self._pending is not None

    def flush(self) -> Out | None:
        """Present what was perceived now, not with the next item (the caller has time to spare before
        the next one: holding it back would only add a frame of latency)."""
        pending, self._pending = self._pending, None
        return self._present(pending) if pending is not None else None

    def drop(self) -> None:
        """Forget what was perceived and not presented (the camera was lost: it is stale)."""
        self._pending = None
