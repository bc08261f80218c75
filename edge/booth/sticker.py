"""The moving sticker: each person's emoticon over the seconds before the shutter, and the group's.

The frame loop records every scene's faces (`SceneRecorder`, a few seconds of FaceViews: small, no
pixels); at a snapshot the recording is drawn again, frame by frame, by the renderer's own drawing
(build_emoticon, from the same FaceView the screen used), on the exhibitor's background with the
logo and title. Never a camera pixel: the camera picture goes on the card only. The backdrop (text
included: fonts belong to the loop's thread) is made at the shutter; the faces are drawn and the
GIFs encoded by `make_stickers` in a process of its own (edge/booth/takehome.py), where seconds of
drawing and LZW in Python take nothing from the frame loop's share of the GIL.
"""
from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass

import numpy as np
import pygame

from edge.booth.card import faces_in_mirror_order
from edge.booth.gif import encode_gif
from edge.render import layout
from edge.render.appearance import face_looks
from edge.render.emoticon import VariantCache
from edge.render.look import Look
from edge.render.text import TextCache
from edge.state import FaceView

STICKER_S = 2.4  # the seconds before the shutter that a sticker plays
DELAY_CS = 8  # 12.5 frames a second: smooth enough for a face, and 30 frames in all
FRAMES = round(STICKER_S * 100 / DELAY_CS)
PERSON_SIZE = (320, 360)  # (W, H): a face 300 px across under the title
GROUP_SIZE = (480, 360)
TEXT = (246, 244, 255)
CACHE_BYTES = 24 * 1024 * 1024  # ~60 variants of a 300 px face
MAX_BYTES = 1_500_000  # a sticker larger than this plays at half the frame rate (half the frames)


class SceneRecorder:
    """The faces of the last few seconds of frames, as (frame time, faces); no pixels."""

    def __init__(self, keep_s: float = STICKER_S + 0.6):
        self.keep_s = keep_s
        self._frames: deque[tuple[float, list[FaceView]]] = deque()

    def record(self, t: float, faces: list[FaceView]) -> None:
        if self._frames and t < self._frames[-1][0]:  # the clock went back (a new source): start again
            self._frames.clear()
        self._frames.append((t, list(faces)))
        while self._frames and t - self._frames[0][0] > self.keep_s:
            self._frames.popleft()

    def tracks(self, ids: list[int]) -> dict[int, list[tuple[float, FaceView]]]:
        """Per track id, its recorded (time, view) in time order."""
        out: dict[int, list[tuple[float, FaceView]]] = {i: [] for i in ids}
        for t, faces in self._frames:
            for f in faces:
                if f.track_id in out:
                    out[f.track_id].append((t, f))
        return out


@dataclass
class Backdrop:
    """What stays still in a sticker: the exhibitor's background, logo and title, and where faces go."""

    rgb: np.ndarray  # H x W x 3: a picture, so that it can be handed to another process
    area: layout.Rect


def backdrop(size: tuple[int, int], look: Look, title: str, text: TextCache) -> Backdrop:
    """Made on the loop's thread (fonts are not shared across threads)."""
    W, H = size
    surf = look.background(size, logo=False)
    m = int(min(W, H) * 0.04)
    top = m
    logo = look.logo_at(int(H * 0.1), int(W * 0.4))
    if logo is not None:
        surf.blit(logo, ((W - logo.get_width()) // 2, top))
        top += logo.get_height() + m // 2
    if title:
        lines, px = text.wrap(title, int(min(W, H) * 0.08), W - 2 * m, max_lines=1)
        s = text.line(lines[0], px, TEXT)
        surf.blit(s, ((W - s.get_width()) // 2, top))
        top += s.get_height() + m // 2
    return Backdrop(pygame.surfarray.array3d(surf).transpose(1, 0, 2), layout.Rect(m, top, W - 2 * m, max(8, H - top - m)))


def sample_times(t_shutter: float) -> list[float]:
    return [t_shutter - (FRAMES - 1 - k) * DELAY_CS / 100 for k in range(FRAMES)]


def view_at(track: list[tuple[float, FaceView]], t: float, fallback: FaceView) -> FaceView:
    """The view shown at frame time t: the last one recorded at or before t (the first, before it)."""
    if not track:
        return fallback
    i = bisect.bisect_right([s for s, _ in track], t) - 1
    return track[max(0, i)][1]


class StickerDrawer:
    """Draws sticker frames. Variants repeat from frame to frame (a held smile), so they are kept in
    a cache of their own."""

    def __init__(self) -> None:
        self._built = VariantCache(CACHE_BYTES)

    def face(self, view: FaceView, d: int) -> pygame.Surface:
        return self._built.get(*face_looks(view)[1], d)

    def frames(self, back: Backdrop, faces: list[FaceView], tracks: dict[int, list[tuple[float, FaceView]]],
               t_shutter: float) -> list[np.ndarray]:
        """The sticker's frames (H x W x 3 RGB) for `faces` (the people in the picture) in mirror order;
        `tracks`: SceneRecorder.tracks of them."""
        order = faces_in_mirror_order(faces)
        base = pygame.surfarray.make_surface(np.ascontiguousarray(back.rgb.transpose(1, 0, 2)))
        area = back.area
        slots = layout.face_slots(len(order), int(area.w), int(area.h))
        out = []
        for t in sample_times(t_shutter):
            frame = base.copy()
            for view, slot in zip(order, slots):
                d = max(8, int(slot.d))
                frame.blit(self.face(view_at(tracks.get(view.track_id, []), t, view), d),
                           (int(area.x + slot.cx - d / 2), int(area.y + slot.cy - d / 2)))
            out.append(pygame.surfarray.array3d(frame).transpose(1, 0, 2))  # a fresh array, seen H x W
        return out


@dataclass
class StickerJob:
    """One snapshot's stickers: the people in the picture, their recorded tracks, the backdrops."""

    number: int
    faces: list[FaceView]
    tracks: dict[int, list[tuple[float, FaceView]]]
    t_shutter: float
    person: Backdrop
    group: Backdrop | None


def make_stickers(job: StickerJob) -> tuple[list[tuple[str, bytes, tuple[int, int]]], list[str]]:
    """(name, GIF, (W, H)) of the group's sticker and each person's, in mirror order; and what could
    not be drawn, each as 'name: why'. Runs in the sticker process."""
    stickers = [("group", job.group, job.faces)] if job.group is not None else []
    stickers += [(str(i), job.person, [f]) for i, f in enumerate(faces_in_mirror_order(job.faces), 1)]
    drawer, made, failed = StickerDrawer(), [], []
    for name, back, faces in stickers:
        try:
            frames = drawer.frames(back, faces, job.tracks, job.t_shutter)
            made.append((name, fit(frames), (frames[0].shape[1], frames[0].shape[0])))
        except (ValueError, pygame.error) as e:
            failed.append(f"{name}: {e}")
    return made, failed


def fit(frames: list[np.ndarray]) -> bytes:
    """The GIF, at most MAX_BYTES: every other frame dropped (and each shown twice as long) until it fits."""
    step = 1
    while True:
        data = encode_gif(frames[::step], DELAY_CS * step)
        if len(data) <= MAX_BYTES or len(frames[::step]) <= 2:
            if len(data) > MAX_BYTES:
                raise ValueError(f"{len(data)} bytes even at {len(frames[::step])} frames")
            return data
        step *= 2


def warm_up() -> None:
    """Run once in the new sticker process: its imports are done before the first snapshot."""
