"""Variants nobody waits for yet - a blink's half-closed eyes, a held pose's smooth version, the
attract screen's next face - built ahead in time a frame has to spare."""
from __future__ import annotations

import time
from collections import deque

from edge.render.emoticon import Style, VariantCache
from edge.render.params import FaceParams

WARM_QUEUE_MAX = 48
WARM_STARVE_FRAMES = 20


class WarmQueue:
    """Newest first (it is what is on screen now), at most WARM_QUEUE_MAX waiting; a device too slow
    to ever have spare time still gets one built every WARM_STARVE_FRAMES frames."""

    def __init__(self, cache: VariantCache):
        self.cache = cache
        self._items: deque[tuple[FaceParams, Style, int]] = deque()
        self._keys: set[tuple] = set()
        self._starved = 0  # frames in a row with queued variants and no time to build them
        self.ms = 0.0  # the last frame's spare-time building, CPU ms (bench reports it apart)

    def add(self, params: FaceParams, style: Style, size: int) -> None:
        key = self.cache.key(params, style, size)
        if key in self._keys or self.cache.peek(params, style, size) is not None:
            return
        if len(self._items) >= WARM_QUEUE_MAX:
            self._keys.discard(self.cache.key(*self._items.popleft()))
        self._items.append((params, style, size))
        self._keys.add(key)

    def build(self, frame_t0: float, budget_s: float, built: int) -> int:
        """Build while the frame (started at perf_counter() `frame_t0`, `built` variants so far) is
        within `budget_s`; returns how many variants the frame has built in all."""
        if built:
            self._starved = 0
        elif self._items:
            self._starved += 1
        c0 = time.process_time()
        spare = True
        while self._items and (time.perf_counter() - frame_t0 < budget_s or self._starved >= WARM_STARVE_FRAMES):
            spare = self._starved < WARM_STARVE_FRAMES
            self._starved = 0
            params, style, size = self._items.pop()
            self._keys.discard(self.cache.key(params, style, size))
            if self.cache.peek(params, style, size) is None:
                built += 1
                self.cache.get(params, style, size)
        self.ms = (time.process_time() - c0) * 1000 if spare else 0.0
        return built
