"""How many frames after the camera the screen shows a blendshape-driven change, end to end.

Issue #22 asks that the display show each blendshape-driven change within 2 frames of the camera.
Filters (One Euro in ShapeTrack), the per-person rest, the rig's levels and the renderer's variant
budget can each add frames, so the only honest figure is the whole mirror's: the assembly of
edge/build.py, paced like a 30 fps camera, fed Grace Hopper's portrait (with a little sensor noise,
so the rest face is not unnaturally still) that changes at one known frame - her jaw drops, her right
eye shuts (the demo's painted wink), or her left brow goes up (edge/sources/acting.py). A display
that keeps the emoticon's pixels stands in for the screen; the change is found where it must be
drawn (the mouth, the eyes, the brows) against the last rest frame, above the rest frames' own noise.

    PYTHONPATH=. .venv/bin/python -m edge.commands.motion_latency      # prints one JSON line per movement

Frame i on screen is camera frame i: sources are pulled one frame per loop (edge/sources/guarded.py).
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import cv2
import numpy as np
import pygame

from edge import build
from edge.config import Config
from edge.render import Renderer
from edge.render.features import EYE_X, EYE_Y, MOUTH_Y
from edge.sources import Frame
from edge.sources.acting import open_mouth, raise_brow
from edge.sources.demo import DEMO_DIR, EYES, close_eyes
from edge.sources.files import read_image

CAMERA = (640, 480)
SCREEN = (1280, 720)
REST_FRAMES = 75  # 2.5 s at rest first: the per-person rest (ShapeTrack) starts after ~1 s and settles
NOISE_FRAMES = 30  # the last rest frames: how much the rest face's drawing moves by itself
CHANGED_FRAMES = 12  # then the change is held 0.4 s, short of the expression's own crossfade
NOISE = 2.0  # sensor noise, grey levels (sigma): the rest face jitters a little, as a camera's does
TARGET_FRAMES = 2

# region of the emoticon each movement must change, in face units (centre 0, radius 1, y down):
# (x0, x1, y0, y1); the eyes and brows span both sides (the mirror decides which side is whose)
REGIONS = {
    "mouth": (-0.5, 0.5, MOUTH_Y - 0.25, MOUTH_Y + 0.38),
    "eyes": (-EYE_X - 0.2, EYE_X + 0.2, EYE_Y - 0.16, EYE_Y + 0.14),
    "brows": (-0.62, 0.62, -0.8, -0.32),
}
HOPPER = read_image(DEMO_DIR / "grace_hopper.jpg")


@dataclass(frozen=True)
class Movement:
    change: Callable[[np.ndarray], np.ndarray]  # the portrait -> the portrait moved
    region: str  # where on the emoticon it must show (REGIONS)
    shape: str  # the blendshape that drives it
    params: tuple[str, ...]  # the rig's params it moves (FaceParams fields)
    still: tuple[str, ...]  # regions that must change less than its own (REGIONS)


MOVEMENTS = {
    "jaw_open": Movement(lambda img: open_mouth(img, 1.0), "mouth", "jawOpen", ("mouth_open",),
                         ("eyes", "brows")),
    "wink": Movement(lambda img: close_eyes(img, EYES["grace_hopper.jpg"], "right"), "eyes", "eyeBlinkRight",
                     ("eye_open_l", "eye_open_r"), ("mouth", "brows")),
    "brow_up": Movement(lambda img: raise_brow(img, 1.0), "brows", "browOuterUpLeft",
                        ("brow_outer_l", "brow_outer_r"), ("mouth",)),  # a raised brow un-squints the eye
}


def camera_frame(portrait: np.ndarray, size: tuple[int, int] = CAMERA) -> np.ndarray:
    """The portrait filling a camera frame (scaled to cover it, centred), as the demo shows her."""
    w, h = size
    ih, iw = portrait.shape[:2]
    scale = max(w / iw, h / ih)
    m = np.float32([[scale, 0, w / 2 - iw * scale / 2], [0, scale, h / 2 - ih * scale / 2]])
    return cv2.warpAffine(portrait, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


class StepSource:
    """Rest frames, then the changed ones from `change_at` on; each with its own seeded noise.

    Capture times are a camera's clock, `fps` exactly (the filters, the tracker and the schedules run
    on capture times): the frame count is then what a 30 fps camera would give, whatever this
    machine's speed. When each frame was really read is kept for the within-frame latency."""

    def __init__(self, rest: np.ndarray, changed: np.ndarray, change_at: int, frames: int, fps: float = 30.0,
                 seed: int = 0):
        self.name, self.fps = "step", fps
        self._rest, self._changed = rest.astype(np.float32), changed.astype(np.float32)
        self.change_at, self.frames = change_at, frames
        self._rng = np.random.default_rng(seed)
        self._index = 0
        self._t0 = 0.0
        self.read_at: list[float] = []

    def read(self) -> Frame | None:
        if self._index >= self.frames:
            return None
        base = self._changed if self._index >= self.change_at else self._rest
        noisy = base + self._rng.normal(0.0, NOISE, base.shape).astype(np.float32)
        now = time.monotonic()
        self._t0 = self._t0 or now
        self.read_at.append(now)
        frame = Frame(np.clip(noisy, 0, 255).astype(np.uint8), self._t0 + self._index / self.fps, self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        pass


class FaceWatcher:
    """A headless display keeping, per presented frame, the emoticon cut out of the screen. The face is
    found as what differs from the background (the idle bob moves it a few pixels; cutting it out by
    its own outline takes that away), so the crops of two frames compare pixel for pixel."""

    def __init__(self, renderer: Renderer):
        self.size, self.mode = renderer.size, "headless"
        self._background = _rgb(renderer.look.background(renderer.size))
        self.faces: list[np.ndarray | None] = []
        self.shown_at: list[float] = []
        # the cutting out is the measurement's work, not the mirror's: reported as the --out display
        # reports its writing, so that the loop does not count it as drawing (edge/app.py)
        self.last_save_ms = 0.0

    def show(self, surface: pygame.Surface, rects: list | None = None) -> list[str]:
        self.shown_at.append(time.monotonic())
        self.faces.append(self._cut(surface))
        self.last_save_ms = (time.monotonic() - self.shown_at[-1]) * 1000
        return []

    def _cut(self, surface: pygame.Surface) -> np.ndarray | None:
        # uint8 and row-major throughout (cv2.absdiff is exact on uint8; a channel max as two maximums):
        # a 1280x720 screen is cut in ~5 ms instead of ~40, so the loop keeps its camera's pace
        rgb = _rgb(surface)  # (H, W, 3)
        diff = cv2.absdiff(rgb, self._background)
        mask = np.maximum(np.maximum(diff[..., 0], diff[..., 1]), diff[..., 2]) > 40
        cols, rows = mask.sum(axis=0), mask.sum(axis=1)
        if cols.max(initial=0) < 20:
            return None
        xs, ys = np.nonzero(cols > 0.1 * cols.max())[0], np.nonzero(rows > 0.1 * rows.max())[0]
        x0, y0, d = xs[0], ys[0], max(xs[-1] - xs[0], ys[-1] - ys[0]) + 1
        return rgb[y0:y0 + d, x0:x0 + d].copy()

    def close(self) -> None:
        pass


def _rgb(surface: pygame.Surface) -> np.ndarray:
    """A surface's pixels as an (H, W, 3) uint8 RGB array."""
    w, h = surface.get_size()
    return np.frombuffer(pygame.image.tobytes(surface, "RGB"), np.uint8).reshape(h, w, 3)


def region_change(a: np.ndarray, b: np.ndarray, region: str) -> float:
    """Mean absolute difference (grey levels) of two face crops inside a region of the emoticon."""
    d = min(a.shape[0], b.shape[0])
    x0, x1, y0, y1 = REGIONS[region]
    px = lambda u: int(round((u + 1) / 2 * d))  # noqa: E731 - face units -> crop pixels
    box = (slice(px(y0), px(y1)), slice(px(x0), px(x1)))
    return float(np.abs(a[:d, :d][box].astype(np.int16) - b[:d, :d][box].astype(np.int16)).mean())


@dataclass
class Latency:
    """One movement, measured. Frames count from the camera frame that first shows the change (0:
    on screen in the very frame it was captured in); the series start one frame before it."""

    movement: str
    first_frames: int | None  # the region first differs from the rest face beyond the rest's own noise
    half_frames: int | None  # the rig params on screen have moved half of their held change
    rest_noise: float  # the largest difference among the last rest frames (grey levels, in the region)
    held_change: float  # the region's difference once the change is held
    elsewhere: float  # the largest held difference where it must not show (Movement.still)
    camera_fps: float  # the capture clock the filters ran on
    capture_to_screen_ms: float  # within one frame, on this machine: camera read to screen (median)
    shape: list[float] = field(default_factory=list)  # the filtered blendshape
    param: list[float] = field(default_factory=list)  # the rig params on screen, moved from rest (sum of |change|)
    drawn: list[float] = field(default_factory=list)  # the region's difference from the rest face

    def ms(self, frames: int | None) -> float | None:
        """What a person waits: the camera frames before the one that shows it, plus that frame's time."""
        return None if frames is None else round(frames * 1000 / self.camera_fps + self.capture_to_screen_ms, 1)


def _first(series: list[float], above: float) -> int | None:
    """Frames after the change (series[0] is the last rest frame) until a value exceeds `above`."""
    return next((i for i, v in enumerate(series[1:]) if v > above), None)


def measure(movement: str, cfg: Config | None = None, rest_frames: int = REST_FRAMES,
            changed_frames: int = CHANGED_FRAMES, seed: int = 0) -> Latency:
    """Run the mirror over rest -> changed and find when the emoticon's drawing changes."""
    mv = MOVEMENTS[movement]
    cfg = cfg or Config()
    cfg.motion.mode = "on"
    source = StepSource(camera_frame(HOPPER), camera_frame(mv.change(HOPPER)), rest_frames,
                        rest_frames + changed_frames, cfg.source.fps, seed)
    renderer = Renderer(SCREEN)
    watcher = FaceWatcher(renderer)
    # paced like the camera, as the mirror runs live: a loop ahead of its camera shows each frame in its
    # own frame interval (with display.pipeline, unpaced, each would wait for the next frame's reading)
    mirror = build.mirror(cfg, lambda: source, renderer, watcher, pace=True, threads=1)
    shapes: list[float] = []
    params: list[tuple[float, ...]] = []

    def record(stats, scene) -> None:
        face = scene.faces[0] if scene.faces else None
        shapes.append((face.shapes or {}).get(mv.shape, float("nan")) if face else float("nan"))
        shown = renderer.shown().get(face.track_id) if face else None
        params.append(tuple(getattr(shown[0], f) for f in mv.params) if shown else (float("nan"),) * len(mv.params))

    mirror.on_present.append(record)
    try:
        mirror.run(source.frames)
    finally:
        mirror.close()
    faces = watcher.faces
    if len(faces) != source.frames or any(f is None for f in faces[rest_frames - NOISE_FRAMES:]):
        raise RuntimeError(f"{movement}: {len(faces)} frames shown for {source.frames}, or no face on some")
    start = rest_frames - 1
    ref = faces[start]
    noise = max(region_change(f, ref, mv.region) for f in faces[rest_frames - NOISE_FRAMES:start])
    elsewhere = max(float(np.median([region_change(f, ref, r) for f in faces[-4:]])) for r in mv.still)
    drawn = [region_change(f, ref, mv.region) for f in faces[start:]]
    moved = [float(sum(abs(a - b) for a, b in zip(p, params[start]))) for p in params[start:]]
    held, held_param = float(np.median(drawn[-4:])), float(np.median(moved[-4:]))
    in_frame = float(np.median(np.subtract(watcher.shown_at, source.read_at))) * 1000
    return Latency(movement, _first(drawn, max(2 * noise, 1.0)), _first(moved, 0.5 * held_param - 1e-9),
                   round(noise, 2), round(held, 2), round(elsewhere, 2), float(cfg.source.fps), round(in_frame, 1),
                   [round(v, 3) for v in shapes[start:]], [round(v, 3) for v in moved], [round(v, 2) for v in drawn])


def main() -> int:
    for movement in MOVEMENTS:
        m = measure(movement)
        print(json.dumps({**asdict(m), "first_ms": m.ms(m.first_frames), "half_ms": m.ms(m.half_frames)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
