"""The test doubles and helpers several test packages share: one place, so no test file imports
another. Each stands in for one thing the mirror talks to (a screen, a printer, a camera clip, the
command line) and behaves like it where the tests look."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import cv2
import numpy as np
import pygame

from conftest import DEMO, PORTRAIT_FACES, REPO
from edge.state import Face

CAMERA_GREEN = (3, 251, 7)  # RGB of the fake camera picture: a colour nothing else on a card has


class RecordingRenderer:
    """The real renderer, remembering every scene it was given (and the last call, to draw it again)."""

    def __init__(self, size=(320, 180)):
        from edge.render import Renderer

        self.inner = Renderer(size)
        self.scenes = []
        self.last = None

    def render(self, scene, now):
        self.scenes.append(scene)
        self.last = (scene, now)
        return self.inner.render(scene, now)

    def __getattr__(self, name):  # changed, invalidate, ...: the real renderer's
        return getattr(self.inner, name)


class NullDisplay:
    mode = "headless"

    def __init__(self):
        self.shown = 0

    def show(self, surface, rects=None):
        self.shown += 1
        return []


def fake_lp(folder, body: str) -> str:
    """An `lp` script on PATH that records its arguments (and stdin) then runs `body`."""
    folder.mkdir(exist_ok=True)
    lp = folder / "lp"
    lp.write_text("#!/bin/sh\n"
                  f'printf "%s\\n" "$@" > "{folder}/args"\n'
                  f"{body}\n")
    lp.chmod(lp.stat().st_mode | stat.S_IEXEC)
    return str(lp)


def camera_pixels(img: np.ndarray) -> int:
    """Pixels of the fake camera's green (scaling moves a channel by a few levels)."""
    return int((np.abs(img.astype(int) - CAMERA_GREEN).max(axis=2) <= 8).sum())


def tiny_video(path, frames: int = 12) -> None:
    """A short MJPG clip of Grace Hopper sliding sideways: a camera that moves, as a file."""
    img = cv2.resize(cv2.imread(str(DEMO / "grace_hopper.jpg")), (160, 192))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 192))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.roll(img, i * 2, axis=1))
    writer.release()


def cli(*args: str, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """`emoticon-mirror ARGS` as a user runs it, with no desktop."""
    full_env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "PYTHONPATH": str(REPO), **(env or {})}
    full_env.pop("DISPLAY", None)
    full_env.pop("WAYLAND_DISPLAY", None)
    return subprocess.run([sys.executable, "-m", "edge", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=REPO)


def assert_one_line_error(r: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    assert r.returncode == code
    errors = [l for l in r.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in errors[0]


# Pictures of faces and emoticons, read the way several test packages read them.

def open_mouth(image: np.ndarray, points: np.ndarray, px: float) -> np.ndarray:
    """The face (its mesh `points`) with its jaw dropped by px."""
    from edge.sources.acting import drop_jaw

    return drop_jaw(image, (points[13, 1] + points[14, 1]) / 2, points[61, 0], points[291, 0], points[152, 1], px)


def face_from_truth(name: str, dx: float = 0.0, scale: float = 1.0) -> Face:
    truth = PORTRAIT_FACES[name]
    x, y, w, h = truth["box"]
    (rx, ry), (lx, ly) = truth["eyes"]
    kp = np.array([[rx, ry], [lx, ly], [(rx + lx) / 2, ry + 0.3 * h], [(rx + lx) / 2, ry + 0.5 * h],
                   [x, ry], [x + w, ly]], np.float32)
    box = np.array([x, y, w, h], np.float32)
    return Face((box + [dx, 0, 0, 0]) * scale, 0.9, (kp + [dx, 0]) * scale)


SCREENS = ((1920, 1080), (800, 480), (1080, 1920))


def rgba(surf: pygame.Surface) -> np.ndarray:
    """H x W x 4 float array."""
    rgb = pygame.surfarray.array3d(surf).transpose(1, 0, 2)
    a = pygame.surfarray.array_alpha(surf).T
    return np.dstack([rgb, a]).astype(np.float32)


def rgb(surf: pygame.Surface) -> np.ndarray:
    return pygame.surfarray.array3d(surf).transpose(1, 0, 2).astype(np.float32)


def region(size: int, cx: float, cy: float, rx: float, ry: float) -> tuple[slice, slice]:
    """Pixel slices of a box given in face units (centre 0,0, radius 1, y down)."""
    r = size / 2
    rows = slice(int(r + (cy - ry) * r), int(r + (cy + ry) * r))
    cols = slice(int(r + (cx - rx) * r), int(r + (cx + rx) * r))
    return rows, cols


def lightness(px: np.ndarray) -> np.ndarray:
    """CIE L* of sRGB values (0..255)."""
    c = px / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    y = lin[..., 0] * 0.2126 + lin[..., 1] * 0.7152 + lin[..., 2] * 0.0722
    return np.where(y > 0.008856, 116 * np.cbrt(y) - 16, 903.3 * y)


def listening_sockets() -> set[int]:
    """Inodes of this process's sockets in the LISTEN state (TCP, IPv4 and IPv6)."""
    mine = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            mine.add(int(link[8:-1]))
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        listening |= {int(r.split()[9]) for r in rows if r.split()[3] == "0A"}
    return mine & listening
