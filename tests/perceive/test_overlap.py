"""The overlapped halves of the frame loop: order, overlap, the last frame, errors."""
from __future__ import annotations

import threading
import time

import pytest

from edge.perceive.overlap import OnThread, Overlap, Ready


def test_off_presents_each_item_at_once():
    shown = []
    o = Overlap(lambda x: Ready(x * 10), lambda r: shown.append(r) or r, on=False)
    assert [o.step(i) for i in (1, 2, 3)] == [10, 20, 30]
    assert o.step(None) is None and shown == [10, 20, 30]


def test_on_presents_each_result_one_call_later_and_the_last_when_the_items_end():
    shown = []
    worker = OnThread(lambda x: x * 10)
    o = Overlap(worker, lambda r: shown.append(r) or r, on=True)
    try:
        assert o.step(1) is None  # on its way
        assert o.step(2) == 10 and o.step(3) == 20
        assert o.step(None) == 30  # the end: what was pending is shown
        assert o.step(None) is None and shown == [10, 20, 30]
    finally:
        worker.close()


def test_on_perceives_the_next_item_while_presenting_the_one_before():
    """present() waits for perceive() of the next item to start: in sequence this would time out."""
    started = threading.Event()
    overlapped, threads = [], set()

    def perceive(x):
        threads.add(threading.get_ident())
        if x == 2:
            started.set()
        return x

    def present(r):
        overlapped.append(started.wait(2.0))
        return r

    worker = OnThread(perceive)
    o = Overlap(worker, present, on=True)
    try:
        o.step(1)
        assert o.step(2) == 1 and overlapped == [True]
        assert threading.get_ident() not in threads
    finally:
        worker.close()


def test_a_failing_present_is_raised_after_the_worker_has_finished():
    done = []

    def perceive(x):
        time.sleep(0.2)
        done.append(x)
        return x

    def present(r):
        raise RuntimeError("display gone")

    worker = OnThread(perceive)
    o = Overlap(worker, present, on=True)
    try:
        o.step(1)
        with pytest.raises(RuntimeError, match="display gone"):
            o.step(2)
        assert done == [1, 2]  # the worker is not left running into whatever handles the error
    finally:
        worker.close()


def test_a_failing_perceive_is_raised_on_the_main_thread_and_a_dropped_result_is_not_shown():
    def perceive(x):
        if x == "bad":
            raise ValueError("bad frame")
        return x

    worker = OnThread(perceive)
    o = Overlap(worker, lambda r: r, on=True)
    try:
        o.step("a")
        with pytest.raises(ValueError, match="bad frame"):
            o.step("bad")
        o.step("b")
        o.drop()  # the camera was lost: "b" is stale
        assert o.step("c") is None and o.step(None) == "c"
    finally:
        worker.close()


def test_a_closed_worker_starts_again_when_next_asked():
    worker = OnThread(lambda x: x)
    o = Overlap(worker, lambda r: r, on=True)
    o.step(1)
    worker.close()
    assert o.step(2) == 1 and o.step(None) == 2
    worker.close()
