"""Shared fixtures: the demo portraits with their faces marked by eye, and one detector per run."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "assets" / "demo"
SHARED_DATA = REPO.parent / "shared" / "data"

# Face boxes (x, y, w, h) and eye centres checked by eye on the portraits.
PORTRAIT_FACES = {
    "astronaut.png": {"box": (178, 81, 94, 94), "eyes": ((204, 101), (248, 108))},
    "grace_hopper.jpg": {"box": (166, 143, 200, 200), "eyes": ((222, 192), (309, 189))},
}


@pytest.fixture(scope="session")
def portraits() -> dict[str, np.ndarray]:
    return {name: cv2.imread(str(DEMO / name)) for name in PORTRAIT_FACES}


@pytest.fixture(scope="session")
def detector():
    from edge.perceive.detect import BlazeFaceDetector

    return BlazeFaceDetector("short", num_threads=1)


def head_crop(detector, image: np.ndarray, side: int = 220) -> np.ndarray:
    """A portrait's head and shoulders (2.2 face widths around the detected face), side x side px:
    the piece the tests paste into frames of their own."""
    x, y, w, h = detector.detect(image)[0].box
    cx, cy, s = x + w / 2, y + h / 2, 2.2 * w
    return cv2.resize(image[int(cy - s / 2):int(cy + s / 2), int(cx - s / 2):int(cx + s / 2)], (side, side))


def box_close(found, expected, tol: float = 0.10) -> bool:
    """Every edge within tol x the expected face size."""
    fx, fy, fw, fh = (float(v) for v in found)
    ex, ey, ew, eh = expected
    size = max(ew, eh)
    return all(abs(a - b) <= tol * size for a, b in
               ((fx, ex), (fy, ey), (fx + fw, ex + ew), (fy + fh, ey + eh)))


@pytest.fixture
def torch_one_thread():
    """torch, or a skip without the training extras; one thread and a fixed seed, since CI and the
    dev box have two cores, often shared with a training run."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield torch
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def no_capture_thread_left():
    """Each test closes the sources it opens: a capture thread left running on a stand-in camera that
    never blocks spins on the GIL for the rest of the session and slows every later test."""
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and t.name.startswith("capture:")]
    for t in left:
        t.join(timeout=2.0)
    running = [t.name for t in left if t.is_alive()]
    assert not running, f"capture thread(s) still running after the test: {running} (close the source)"
