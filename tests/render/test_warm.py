"""Spare-time building: bounded, newest first, only in time a frame has left - except that a device
that never has any still gets a variant now and then."""
from __future__ import annotations

import dataclasses
import time

from edge.render.emoticon import Style, VariantCache
from edge.render.params import EXPRESSION_PARAMS
from edge.render.warm import WARM_QUEUE_MAX, WARM_STARVE_FRAMES, WarmQueue

HAPPY = EXPRESSION_PARAMS["happy"]


def _poses(n: int):
    return [dataclasses.replace(HAPPY, mouth_open=0.1 * (i % 10), mouth_curve=0.1 * (i // 10)) for i in range(n)]


def test_the_queue_is_bounded_and_builds_the_newest_first():
    cache = VariantCache(64 * 2**20)
    queue = WarmQueue(cache)
    poses = _poses(WARM_QUEUE_MAX + 5)
    for p in poses:
        queue.add(p, Style(), 40)
        queue.add(p, Style(), 40)  # asked twice, queued once
    assert len(queue._items) == WARM_QUEUE_MAX
    built = queue.build(time.perf_counter(), 10.0, built=0)  # a frame with time to spare
    assert built == WARM_QUEUE_MAX and cache.builds == WARM_QUEUE_MAX and queue.ms > 0
    assert cache.peek(poses[-1], Style(), 40) is not None and cache.peek(poses[0], Style(), 40) is None


def test_no_spare_time_builds_nothing_until_the_queue_starves():
    cache = VariantCache(64 * 2**20)
    queue = WarmQueue(cache)
    queue.add(HAPPY, Style(), 40)
    late = time.perf_counter() - 1.0  # every frame already over its budget
    for _ in range(WARM_STARVE_FRAMES - 1):
        assert queue.build(late, 0.006, built=0) == 0
    assert queue.build(late, 0.006, built=0) == 1 and cache.peek(HAPPY, Style(), 40) is not None
    assert queue.ms == 0.0  # a starved build is not spare time: the frame paid for it
