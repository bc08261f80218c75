"""Video files, single images and folders of images, as if they were cameras.

Images and folders repeat, like a camera that never moves; a video plays once unless
`source.loop` (or `run --loop`) asks for a kiosk clip, or systemd runs the mirror (edge/cli.py). Each has a frame rate the loop keeps (a
video its own, the others `source.fps`). A file that disappears or breaks mid-run raises
SourceError like an unplugged camera does.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np

from edge.config import SourceConfig
from edge.sources import Frame, SourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def is_video(spec: str) -> bool:
    """A file that open_source plays as a video (a clip, a GIF), not a still."""
    return Path(spec).is_file() and Path(spec).suffix.lower() not in IMAGE_SUFFIXES


def read_image(path: Path) -> np.ndarray:
    """BGR uint8, or SourceError naming the file (cv2.imread returns None without saying why)."""
    if path.exists() and not path.is_file():
        raise SourceError(f"{path}: not a regular file (a FIFO, a device or a folder)")
    try:
        data = np.fromfile(str(path), np.uint8) if path.is_file() else None
    except OSError as e:  # no permission (mode 000), an I/O error: this file, not the whole batch
        raise SourceError(f"{path}: cannot read ({e.strerror or e})") from None
    if data is None:
        raise SourceError(f"{path}: no such image file")
    flags = cv2.IMREAD_COLOR
    size = header_size(data[:65536].tobytes())
    if size is not None and size[0] * size[1] > MAX_DECODE_PIXELS:
        w, h = size
        reduced = next((f for k, f in REDUCED if w * h / (k * k) <= MAX_DECODE_PIXELS), None)
        if not data[:2].tobytes() == b"\xff\xd8" or reduced is None:  # only JPEG decodes straight to a smaller size
            raise SourceError(f"{path}: too large to read ({w}x{h} pixels; at most {MAX_DECODE_PIXELS // 10**6} "
                              "million: shrink it first)")
        flags = reduced
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise SourceError(f"{path}: not a readable image")
    return image


MAX_SIDE = 1920  # stills larger than this are shrunk once when loaded: no camera gives more
# A picture is decoded whole before anything else: 20000x20000 took 2.45 GB (the unit allows 700 MB).
# A JPEG above this is decoded at a half, quarter or eighth of its size; anything else is refused.
MAX_DECODE_PIXELS = 64_000_000
REDUCED = ((2, cv2.IMREAD_REDUCED_COLOR_2), (4, cv2.IMREAD_REDUCED_COLOR_4), (8, cv2.IMREAD_REDUCED_COLOR_8))


def header_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, JPEG or BMP header, without decoding; None when not found."""
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if head[:2] == b"BM" and len(head) >= 26:
        return abs(int.from_bytes(head[18:22], "little", signed=True)), abs(int.from_bytes(head[22:26], "little", signed=True))
    if head[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(head):
            if head[i] != 0xFF:
                i += 1
                continue
            marker, length = head[i + 1], int.from_bytes(head[i + 2:i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame
                return int.from_bytes(head[i + 7:i + 9], "big"), int.from_bytes(head[i + 5:i + 7], "big")
            i += 2 + length
    return None


def fit(image: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """A still as a camera would give it: an 8000x8000 photo shown as a source would otherwise be
    letterboxed, cropped and drawn from 64 Mpx on every frame (4 fps instead of the source's rate)."""
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


class ImageSource:
    """One still image, repeated: the mirror holds the picture like a camera that never moves."""

    def __init__(self, path: Path, cfg: SourceConfig):
        self.name = str(path)
        self.fps = cfg.fps
        self._image = fit(read_image(path))
        self._index = 0

    def read(self) -> Frame | None:
        self._index += 1
        return Frame(self._image, time.monotonic(), self._index - 1)

    def close(self) -> None:
        pass


class FolderSource:
    """Every image in a folder, sorted, each held for one second of frames; loops.

    An unreadable file is skipped with one warning (not one per loop); a folder with no readable
    image at all is a SourceError when it is opened, so `run` says so in one line."""

    def __init__(self, path: Path, cfg: SourceConfig):
        self.name = str(path)
        self.fps = cfg.fps
        self._paths = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._paths:
            raise SourceError(f"{path}: folder has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self._hold = cfg.fps
        self._index = 0
        self._warned: set[Path] = set()
        self._current: tuple[int, np.ndarray] | None = None
        self._load(0)

    def _load(self, which: int) -> int:
        """The first readable image from `which` on (wrapping), made current; its position."""
        for k in range(len(self._paths)):
            i = (which + k) % len(self._paths)
            try:
                self._current = (i, fit(read_image(self._paths[i])))
                return i
            except SourceError as e:
                if self._paths[i] not in self._warned:
                    self._warned.add(self._paths[i])
                    log.warning("skipping %s", e)
        raise SourceError(f"{self.name}: none of its {len(self._paths)} images is readable")

    def read(self) -> Frame | None:
        which = (self._index // self._hold) % len(self._paths)
        if self._current is None or self._current[0] != which:
            got = self._load(which)
            if got != which:  # skipped unreadable ones: hold the readable image for its full second
                self._index += ((got - which) % len(self._paths)) * self._hold - self._index % self._hold
        self._index += 1
        return Frame(self._current[1], time.monotonic(), self._index - 1)

    def close(self) -> None:
        pass


class VideoSource:
    def __init__(self, path: Path, cfg: SourceConfig):
        self.name = str(path)
        self._path = path
        self._loop = cfg.loop
        self._cap = self._open()
        rate = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = rate if 1 <= rate <= 240 else cfg.fps  # the file's own rate; containers may lie
        self._index = 0
        self._frames_this_pass = 0

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(str(self._path))
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"{self._path}: not a readable video (or an image type we do not know)")
        return cap

    def read(self) -> Frame | None:
        ok, image = self._cap.read()
        if not ok:
            if self._frames_this_pass == 0:
                raise SourceError(f"{self._path}: video gives no frames (missing, truncated or empty)")
            if not self._loop:
                return None  # played once: the run ends (source.loop / --loop to repeat)
            self._cap.release()
            self._cap = self._open()  # loop; a file removed meanwhile fails here like a lost camera
            self._frames_this_pass = 0
            ok, image = self._cap.read()
            if not ok:
                raise SourceError(f"{self._path}: video gives no frames (missing, truncated or empty)")
        self._frames_this_pass += 1
        self._index += 1
        return Frame(image, time.monotonic(), self._index - 1)

    def close(self) -> None:
        self._cap.release()
