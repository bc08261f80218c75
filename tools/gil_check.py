"""Does a call release the GIL? (issue #19: would a capture / perceive / render pipeline of threads pay?)

    .venv/bin/python tools/gil_check.py

A pure-Python counter runs in the main thread for 2 s while another thread loops the call; if the call
holds the GIL, the counter slows by about the share of time it runs (run it on an otherwise idle machine).
"""
import os
import sys
import threading
import time
from pathlib import Path
sys.path[:0] = [str(Path(__file__).resolve().parents[1])]
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402

def count(seconds=2.0):
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(1000): n += 1
    return n

def with_worker(fn):
    stop = threading.Event(); calls = [0]
    def loop():
        while not stop.is_set():
            fn(); calls[0] += 1
    th = threading.Thread(target=loop); th.start()
    n = count(); stop.set(); th.join()
    return n, calls[0]

from edge.landmarks import FaceMesh  # noqa: E402
m478 = FaceMesh(points="478"); x478 = np.random.rand(1, 256, 256, 3).astype(np.float32)
pygame.init(); screen = pygame.Surface((1920, 1080)); src = pygame.Surface((864, 864), pygame.SRCALPHA)
pygame.draw.circle(src, (250, 200, 40, 255), (432, 432), 400)
frame = np.random.randint(0, 255, (480, 640, 3), np.uint8); M = np.float32([[1.1, 0.1, -20], [-0.1, 1.1, 10]])
base = count()
print(f"alone: {base}")
for name, fn in (("litert invoke (478 mesh)", lambda: m478.model.run(x478)),
                 ("pygame alpha blit 864 px", lambda: screen.blit(src, (500, 100))),
                 ("cv2.warpAffine 640x480", lambda: cv2.warpAffine(frame, M, (640, 480))),
                 ("pure python", lambda: sum(range(20000)))):
    n, calls = with_worker(fn)
    print(f"{name}: main-thread counter {n / base:.2f} of alone, worker calls in 2 s: {calls}")
