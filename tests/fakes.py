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


# A booth's camera, simulated: a room, and a portrait or a grey card in it, lit by a lamp of a colour
# and a strength (in linear light, as a lamp lights a scene), seen through a camera whose settings hold.

LAMPS = {  # B, G, R in linear light (luminance kept), and exposure in EV
    "neutral": ((1.0, 1.0, 1.0), 0.0),
    "warm": ((0.595, 0.92, 1.407), 0.0),
    "cool": ((1.389, 1.029, 0.772), 0.0),
    "dim": ((1.0, 1.0, 1.0), -0.5),
}


def lit(image_bgr: np.ndarray, lamp: str) -> np.ndarray:
    cast, ev = LAMPS[lamp]
    c = image_bgr.astype(np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4) * np.array(cast) * 2.0 ** ev
    lin = np.clip(lin, 0.0, 1.0)
    out = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.round(out * 255).astype(np.uint8)


def grey_value(reflectance: float) -> int:
    """The 8-bit sRGB value of a surface of this reflectance, correctly exposed."""
    return int(round(255 * (1.055 * reflectance ** (1 / 2.4) - 0.055)))


def booth_room(size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A room as a booth's camera sees it: a pale wall lit from above, a floor, a poster and a door."""
    w, h = size
    img = np.empty((h, w, 3), np.uint8)
    shade = np.linspace(1.0, 0.85, h)[:, None, None]
    img[:] = (np.array([196, 203, 210]) * shade).astype(np.uint8)
    img[int(0.8 * h):] = (70, 95, 120)
    img[int(0.1 * h):int(0.45 * h), int(0.04 * w):int(0.18 * w)] = (40, 60, 200)
    img[int(0.15 * h):int(0.8 * h), int(0.84 * w):int(0.96 * w)] = (120, 130, 135)
    return img


def booth_frame(lamp: str, portrait: np.ndarray | None = None, card: float | None = None,
                card_share: float = 0.3, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """The room under `lamp`, with a portrait (a head and shoulders crop: conftest.head_crop) in the
    middle and/or a card of this reflectance held there, card_share of the picture's width wide."""
    img = booth_room(size)
    w, h = size
    if portrait is not None:
        ph, pw = portrait.shape[:2]
        y0, x0 = (h - ph) // 2, (w - pw) // 2
        img[y0:y0 + ph, x0:x0 + pw] = portrait
    if card is not None:
        cw, ch = int(card_share * w), int(card_share * w * 1.25)
        img[(h - ch) // 2:(h + ch) // 2, (w - cw) // 2:(w + cw) // 2] = grey_value(card)
    return lit(img, lamp)


class FakeCamera:
    """A camera showing generated frames (a function of the frame number), whose exposure and white
    balance hold when asked (as a Pi camera's do), with the settings it reports."""

    name = "fake camera"

    def __init__(self, frame_at, settings: dict | None = None, colour: bool = True, exposure: bool = True):
        from edge.sources import Frame

        self._frame, self.frame_at, self.n = Frame, frame_at, 0
        self.settings = settings or {"ExposureTime": 12000, "AnalogueGain": 1.5, "ColourGains": (1.9, 1.4)}
        self.colour, self.exposure = colour, exposure
        self.holds, self.closed = 0, False

    def read(self):
        self.n += 1
        return self._frame(self.frame_at(self.n), float(self.n), self.n)

    def hold_light(self):
        from edge.calibration import Held

        self.holds += 1
        return Held("fake sensor", dict(self.settings), colour=self.colour, exposure=self.exposure,
                    refused=[] if self.colour and self.exposure else ["AUTO_WB"])

    def light_settings(self) -> dict:
        return dict(self.settings)

    def close(self):
        self.closed = True


class FakePicamera2:
    """picamera2's calls the source makes, on a camera whose auto exposure is still moving; it shows
    `picture` (a test sets it) or a grey that changes every frame."""

    picture: np.ndarray | None = None

    def __init__(self):
        self.controls: list[dict] = []
        self.frames = 0

    def create_video_configuration(self, **kw):
        return kw

    def configure(self, config):
        self.config = config

    def start(self):
        pass

    def capture_array(self, stream):
        self.frames += 1
        if self.picture is not None:
            return self.picture
        return np.full((48, 64, 3), self.frames % 256, np.uint8)

    def capture_metadata(self):
        return {"ExposureTime": 10000 + self.frames, "AnalogueGain": 2.0, "ColourGains": (1.8, 1.5), "Lux": 300}

    def set_controls(self, controls):
        self.controls.append(controls)

    def stop(self):
        pass

    def close(self):
        pass
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
