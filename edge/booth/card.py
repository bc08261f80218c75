"""The snapshot card: the emoticons as they were on screen, large, with the date, the event title,
the exhibitor's logo and the card's number; the camera picture only when the exhibitor asked for it.

Emoticons are drawn afresh at the card's size (not scaled up from the screen's cache) and not put
in the shared variant cache: a card is a one-off, and its huge variants would push out the live ones.
"""
from __future__ import annotations

import time

import numpy as np
import pygame

from edge.render import layout
from edge.render.emoticon import build_emoticon
from edge.render.look import Look
from edge.render.appearance import face_looks
from edge.render.text import TextCache
from edge.state import FaceView

TEXT = (246, 244, 255)
TEXT_DIM = (200, 196, 228)
FRAME = (246, 244, 255)


def faces_in_mirror_order(faces: list[FaceView]) -> list[FaceView]:
    return sorted(faces, key=lambda f: (layout.mirror_x(f.center_x), f.track_id))


def draw_face(view: FaceView, d: int) -> pygame.Surface:
    """The face as the screen showed it (live pose included), drawn afresh at d pixels."""
    params, style = face_looks(view)[1]
    return build_emoticon(params, style, d)


def compose_card(faces: list[FaceView], size: tuple[int, int], look: Look, number: int, title: str = "",
                 when: float | None = None, photo_rgb: np.ndarray | None = None) -> pygame.Surface:
    """The card at `size` (W, H). `photo_rgb`: the camera frame (H x W x 3, RGB, as the camera saw
    it); drawn mirrored, like the screen, only when given."""
    W, H = size
    short = min(W, H)
    card = pygame.Surface(size)
    card.blit(look.background(size, logo=False), (0, 0))
    text = TextCache(font_path=look.font_path)
    m = int(short * 0.05)
    top = m
    logo = look.logo_at(int(H * 0.09), int(W * 0.5))
    if logo is not None:
        card.blit(logo, ((W - logo.get_width()) // 2, top))
        top += logo.get_height() + m // 2
    if title:
        lines, px = text.wrap(title, int(short * 0.075), W - 2 * m, max_lines=2)
        for ln in lines:
            s = text.line(ln, px, TEXT)
            card.blit(s, ((W - s.get_width()) // 2, top))
            top += int(s.get_height() * 1.02)
        top += m // 3
    foot_px = max(12, int(short * 0.045))
    bottom = H - m - int(foot_px * 1.3)
    area = layout.Rect(m, top, W - 2 * m, max(1, bottom - top - m // 2))
    if photo_rgb is not None:
        area = _place_photo(card, photo_rgb, area, W >= H * 1.2)
    _place_faces(card, faces_in_mirror_order(faces), area)
    when = time.time() if when is None else when
    stamp = text.line(time.strftime("%d %B %Y  %H:%M", time.localtime(when)), foot_px, TEXT_DIM)
    card.blit(stamp, (m, H - m - stamp.get_height()))
    num = text.line(f"No. {number}", foot_px, TEXT_DIM)
    card.blit(num, (W - m - num.get_width(), H - m - num.get_height()))
    return card


def _place_faces(card: pygame.Surface, faces: list[FaceView], area: layout.Rect) -> None:
    slots = layout.face_slots(len(faces), int(area.w), int(area.h))
    for view, slot in zip(faces, slots):
        d = max(8, int(slot.d))
        card.blit(draw_face(view, d), (int(area.x + slot.cx - d / 2), int(area.y + slot.cy - d / 2)))


def _place_photo(card: pygame.Surface, rgb: np.ndarray, area: layout.Rect, side_by_side: bool) -> layout.Rect:
    """The mirrored camera picture in the first half of `area` (top, or left on a wide card);
    returns the half left for the emoticons."""
    arr = np.ascontiguousarray(np.asarray(rgb, np.uint8)[:, ::-1, :3])
    h, w = arr.shape[:2]
    if side_by_side:
        box, rest = (area.x, area.y, area.w / 2, area.h), layout.Rect(area.x + area.w / 2, area.y, area.w / 2, area.h)
    else:
        box, rest = (area.x, area.y, area.w, area.h / 2), layout.Rect(area.x, area.y + area.h / 2, area.w, area.h / 2)
    k = min(box[2] * 0.94 / w, box[3] * 0.94 / h)
    pw, ph = max(2, int(w * k)), max(2, int(h * k))
    pic = pygame.transform.smoothscale(pygame.image.frombuffer(arr.tobytes(), (w, h), "RGB"), (pw, ph))
    x, y = int(box[0] + (box[2] - pw) / 2), int(box[1] + (box[3] - ph) / 2)
    border = max(2, int(min(card.get_size()) * 0.006))
    pygame.draw.rect(card, FRAME, (x - border, y - border, pw + 2 * border, ph + 2 * border))
    card.blit(pic, (x, y))
    return rest
