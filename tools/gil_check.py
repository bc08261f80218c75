"""Does a call release the GIL? (issue #19: would a capture / perceive / render pipeline of threads pay?)

    .venv/bin/python tools/gil_check.py

A pure-Python counter runs in the main thread for 2 s while another thread loops the call; if the call
holds the GIL, the counter slows by about the share of time it runs (run it on an otherwise idle machine).
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402

from edge.perceive.landmarks import FaceMesh  # noqa: E402


def count(seconds: float = 2.0) -> int:
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(1000):
            n += 1
    return n


def with_worker(fn: Callable[[], object]) -> tuple[int, int]:
    """The main thread's count while a worker thread loops fn, and how often fn ran."""
    stop, calls = threading.Event(), [0]

    def loop() -> None:
        while not stop.is_set():
            fn()
            calls[0] += 1

    worker = threading.Thread(target=loop)
    worker.start()
    n = count()
    stop.set()
    worker.join()
    return n, calls[0]


def main() -> None:
    mesh = FaceMesh(points="478")
    mesh_input = np.random.rand(1, 256, 256, 3).astype(np.float32)
    pygame.init()
    screen, sprite = pygame.Surface((1920, 1080)), pygame.Surface((864, 864), pygame.SRCALPHA)
    pygame.draw.circle(sprite, (250, 200, 40, 255), (432, 432), 400)
    frame = np.random.randint(0, 255, (480, 640, 3), np.uint8)
    warp = np.float32([[1.1, 0.1, -20], [-0.1, 1.1, 10]])
    base = count()
    print(f"alone: {base}")
    for name, fn in (("litert invoke (478 mesh)", lambda: mesh.model.run(mesh_input)),
                     ("pygame alpha blit 864 px", lambda: screen.blit(sprite, (500, 100))),
                     ("cv2.warpAffine 640x480", lambda: cv2.warpAffine(frame, warp, (640, 480))),
                     ("pure python", lambda: sum(range(20000)))):
        n, calls = with_worker(fn)
        print(f"{name}: main-thread counter {n / base:.2f} of alone, worker calls in 2 s: {calls}")


if __name__ == "__main__":
    main()
