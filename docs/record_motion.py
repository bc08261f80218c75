"""Record the demo with live motion on, as the README shows it: docs/motion.gif and docs/motion_frames.jpg.

    .venv/bin/python docs/record_motion.py            # ~8 s of the demo, paced like a 30 fps camera
    .venv/bin/python docs/record_motion.py --acting   # the acting segment: docs/blendshapes.gif, _frames.jpg

The mirror runs headless in real time (filters and smoothing use the clock, so an unpaced run would
not look like the booth). Every 3rd frame is kept beside the camera frame it came from, scaled
down, and written as an animated GIF (Pillow, installed by ./setup.sh --train); four frames around
the demo's first blink and its wink go into a 2x2 JPEG.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import pygame

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge import build  # noqa: E402
from edge.config import Config, DisplayConfig  # noqa: E402
from edge.display import Display  # noqa: E402
from edge.render import Renderer  # noqa: E402
from edge.sources import open_source  # noqa: E402
from edge.sources.demo import TIMELINE  # noqa: E402

STRIP_FRAMES = (30, 38, 80, 112)  # eyes open, the first blink, the wink, tilted the other way
# the acting segment: at rest, then the middle of each act (edge/sources/acting.py) and of the wink
ACTING_STRIP = (3, 15, 45, 72, 99, 130)
GIF_EVERY = 3


class Remember:
    """The demo source, keeping the frame it handed out last (the camera half of the recording)."""

    def __init__(self, source):
        self.source, self.last = source, None

    def read(self):
        frame = self.source.read()
        self.last = frame.image_bgr if frame is not None else None
        return frame

    def close(self) -> None:
        self.source.close()


class Keeper:
    """A headless display that keeps every GIF_EVERY-th frame (and the strip's): camera | screen."""

    def __init__(self, size: tuple[int, int], scale: float, camera: Remember, strip=STRIP_FRAMES):
        self.camera = camera
        self.strip_frames = strip
        self.inner = Display(DisplayConfig(mode="headless", width=size[0], height=size[1], max_fps=30), "headless")
        self.size, self.mode = self.inner.size, "headless"
        self.scale = scale
        self.index = 0
        self.gif: list[np.ndarray] = []
        self.strip: dict[int, np.ndarray] = {}

    def show(self, surface: pygame.Surface, rects: list | None = None) -> list[str]:
        if self.index % GIF_EVERY == 0 or self.index in self.strip_frames:
            rgb = pygame.surfarray.array3d(surface).transpose(1, 0, 2)
            screen = cv2.resize(rgb, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)
            cam = cv2.cvtColor(self.camera.last, cv2.COLOR_BGR2RGB)
            h = screen.shape[0]
            cam = cv2.resize(cam, (round(cam.shape[1] * h / cam.shape[0]), h), interpolation=cv2.INTER_AREA)
            small = np.hstack([cam, screen])
            if self.index % GIF_EVERY == 0:
                self.gif.append(cv2.resize(small, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA))
            if self.index in self.strip_frames:
                self.strip[self.index] = small
        self.index += 1
        return []

    def close(self) -> None:
        self.inner.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=240)
    ap.add_argument("--out", type=Path, default=REPO / "docs")
    ap.add_argument("--acting", action="store_true", help="record the acting segment (blendshape motion)")
    args = ap.parse_args()
    cfg = Config()
    cfg.motion.mode = "on"
    source = open_source("demo", cfg.source)
    strip, name = (ACTING_STRIP, "blendshapes") if args.acting else (STRIP_FRAMES, "motion")
    if args.acting:  # start at the last segment, where Grace Hopper acts
        source._index = sum(round(s.seconds * cfg.source.fps) for s in TIMELINE[:-1])
        args.frames = min(args.frames, round(TIMELINE[-1].seconds * cfg.source.fps))
    camera = Remember(source)
    keeper = Keeper((960, 540), 0.5, camera, strip)
    mirror = None
    try:
        mirror = build.mirror(cfg, lambda: camera, Renderer(keeper.size), keeper, pace=True)
        stats = mirror.run(args.frames)
    finally:
        if mirror is not None:
            mirror.close()
        keeper.close()
    print(stats.summary())
    tiles = [keeper.strip[i] for i in strip]
    cols = len(tiles) // 2
    grid = np.vstack([np.hstack(tiles[:cols]), np.hstack(tiles[cols:])])
    cv2.imwrite(str(args.out / f"{name}_frames.jpg"), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 85])
    try:
        from PIL import Image
    except ImportError:
        print("Pillow is missing (./setup.sh --train installs it): wrote the strip only", file=sys.stderr)
        return 0
    frames = [Image.fromarray(f).quantize(colors=64, method=Image.Quantize.MEDIANCUT) for f in keeper.gif]
    frames[0].save(args.out / f"{name}.gif", save_all=True, append_images=frames[1:],
                   duration=round(1000 * GIF_EVERY / cfg.display.max_fps), loop=0, optimize=True)
    print(args.out / f"{name}.gif", args.out / f"{name}_frames.jpg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
