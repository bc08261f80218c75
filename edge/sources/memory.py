"""Frames already in memory, cycled: the zero-cost camera that bench and tests measure against."""
from __future__ import annotations

import time

import numpy as np

from edge.sources import Frame


class MemorySource:
    def __init__(self, frames: list[np.ndarray], loop: bool = True, name: str = "memory", fps: float | None = None,
                 camera_clock: bool = False):
        self.name = name
        self.fps = fps  # None: no rate of its own (bench runs it flat out)
        self._frames = frames
        self._loop = loop
        self._index = 0
        # camera_clock: stamp frame i at start + i/fps, as a camera would, however fast they are read -
        # the schedules and the smoothing then do the same thing on a loaded machine as on a quiet one
        self._clock = time.monotonic() if camera_clock and fps else None

    def read(self) -> Frame | None:
        if not self._loop and self._index >= len(self._frames):
            return None
        image = self._frames[self._index % len(self._frames)]
        self._index += 1
        t = time.monotonic() if self._clock is None else self._clock + (self._index - 1) / self.fps
        return Frame(image, t, self._index - 1)

    def close(self) -> None:
        pass
