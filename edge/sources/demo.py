"""The embedded demo: the two public-domain portraits in assets/demo/ as a looping fake camera.

Gentle synthetic pan, zoom and head tilt, blinks and a wink (the eyes painted over with the
person's own skin for a few frames), a scene with both people, a short empty moment, and Grace Hopper
acting out a raised brow, a pucker, puffed cheeks and a half smile (edge/sources/acting.py), so the
whole loop (detection, tracking, live motion, blendshapes, the idle screen) runs with no camera.
Frames depend only on their index, which keeps headless runs and tests repeatable.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.config import SourceConfig
from edge.sources import Frame
from edge.sources.acting import WINK, scripted
from edge.sources.files import read_image

DEMO_DIR = Path(__file__).resolve().parents[2] / "assets" / "demo"
PORTRAITS = ("astronaut.png", "grace_hopper.jpg")
# Where each portrait's eyes are, in its own pixels: (person's right eye centre, left eye centre,
# eye width), located once with our face mesh. Only the demo's painted blinks use them.
EYES = {
    "astronaut.png": ((203.9, 100.9), (245.7, 104.0), 18.5),
    "grace_hopper.jpg": ((220.4, 192.8), (309.0, 187.5), 38.0),
}
# (start s, duration s, eyes) within each one-person segment: two blinks and a wink
BLINKS = ((1.2, 0.13, "both"), (2.4, 0.4, "right"), (3.6, 0.13, "both"))


@dataclass(frozen=True)
class Segment:
    seconds: float
    people: tuple[int, ...]  # indices into PORTRAITS; empty = nobody in front of the camera
    zoom: tuple[float, float]  # start, end
    pan: tuple[float, float]  # horizontal pan start, end, as a fraction of the frame width
    acting: bool = False  # the portrait acts out edge/sources/acting.py's script (Grace Hopper only)


TIMELINE = (
    Segment(5.0, (0,), (1.0, 1.25), (-0.05, 0.06)),
    Segment(5.0, (1,), (1.15, 0.95), (0.06, -0.05)),
    Segment(3.0, (0, 1), (1.0, 1.05), (0.0, 0.0)),
    Segment(0.6, (), (1.0, 1.0), (0.0, 0.0)),
    Segment(5.0, (1,), (1.1, 1.1), (0.0, 0.0), acting=True),
)


def close_eyes(image: np.ndarray, eyes: tuple, which: str) -> np.ndarray:
    """The portrait with one or both eyes painted over with the skin just below them."""
    out = image.copy()
    (rx, ry), (lx, ly), ew = eyes
    centres = {"right": [(rx, ry)], "left": [(lx, ly)], "both": [(rx, ry), (lx, ly)]}[which]
    for x, y in centres:
        x0, x1 = int(x - 0.3 * ew), int(x + 0.3 * ew)
        y0, y1 = int(y + 0.9 * ew), int(y + 1.2 * ew)
        skin = np.median(image[y0:y1, x0:x1].reshape(-1, 3), 0)
        cv2.ellipse(out, (int(round(x)), int(round(y))), (int(0.8 * ew), int(0.45 * ew)), 0, 0, 360,
                    tuple(float(c) for c in skin), -1, cv2.LINE_AA)
    return out


def _place(canvas: np.ndarray, image: np.ndarray, x0: int, width: int, zoom: float, pan: float, roll_deg: float) -> None:
    """Fill canvas[:, x0:x0+width] with the image scaled to the height, zoomed, panned and rolled."""
    h = canvas.shape[0]
    ih, iw = image.shape[:2]
    scale = max(h / ih, width / iw) * zoom
    m = cv2.getRotationMatrix2D((iw / 2, ih / 2), roll_deg, scale)
    m[0, 2] += width / 2 - iw / 2 + pan * width
    m[1, 2] += h / 2 - ih / 2
    canvas[:, x0:x0 + width] = cv2.warpAffine(image, m, (width, h), flags=cv2.INTER_LINEAR,
                                              borderMode=cv2.BORDER_REFLECT101)


class DemoSource:
    def __init__(self, cfg: SourceConfig, demo_dir: Path = DEMO_DIR):
        self.name = "demo"
        self.size = (cfg.width, cfg.height)
        self.fps = cfg.fps
        self._images = [read_image(demo_dir / name) for name in PORTRAITS]
        self._closed = [{which: close_eyes(img, EYES[name], which) for which in ("both", "right")}
                        for name, img in zip(PORTRAITS, self._images)]
        self._frames = [max(1, round(s.seconds * cfg.fps)) for s in TIMELINE]
        self._index = 0
        ys = np.linspace(0, 1, cfg.height, dtype=np.float32)[:, None, None]
        wall = np.array([70, 62, 55], np.float32) * (1 - ys) + np.array([120, 110, 100], np.float32) * ys
        self._empty = np.broadcast_to(wall, (cfg.height, cfg.width, 3)).astype(np.uint8)

    @property
    def loop_frames(self) -> int:
        return sum(self._frames)

    def frame_at(self, index: int) -> np.ndarray:
        i = index % self.loop_frames
        for seg, n in zip(TIMELINE, self._frames):
            if i < n:
                break
            i -= n
        t = i / max(1, n - 1)
        ease = 0.5 - 0.5 * math.cos(math.pi * t)
        zoom = seg.zoom[0] + (seg.zoom[1] - seg.zoom[0]) * ease
        pan = seg.pan[0] + (seg.pan[1] - seg.pan[0]) * ease
        roll = 0.0 if seg.acting else 4.0 * math.sin(2 * math.pi * t)  # a tilt keeps the eye alignment honest
        w, h = self.size
        if not seg.people:
            return self._empty.copy()
        canvas = np.empty((h, w, 3), np.uint8)
        width = w // len(seg.people)
        sec = i / self.fps
        blinks = ((*WINK, "right"),) if seg.acting else BLINKS
        closed = next((which for start, dur, which in blinks if start <= sec < start + dur), None)
        for k, person in enumerate(seg.people):
            alone = len(seg.people) == 1
            image = self._closed[person][closed] if alone and closed else self._images[person]
            if seg.acting:
                image = scripted(image, sec)
            _place(canvas, image, k * width, width if k < len(seg.people) - 1 else w - k * width,
                   zoom, pan, roll if alone else 0.0)
        return canvas

    def read(self) -> Frame | None:
        frame = Frame(self.frame_at(self._index), time.monotonic(), self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        pass
