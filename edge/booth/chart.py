"""The visitor chart: one bar per hour, split by the expressions shown, snapshots as dots.

Drawn with pygame (already on the Pi for the screen) rather than matplotlib, which is a training
dependency and not installed on a kiosk.
"""
from __future__ import annotations

import math

import pygame

from edge.render.text import TextCache
from edge.state import EXPRESSIONS
from edge.booth.visitors import Hour

RGB = tuple[int, int, int]

EXPRESSION_COLOURS: dict[str, RGB] = {
    "happy": (255, 196, 61), "surprise": (255, 128, 64), "neutral": (150, 160, 190), "sad": (84, 132, 230),
    "fear": (150, 100, 210), "angry": (226, 72, 72), "disgust": (96, 170, 96), "contempt": (200, 120, 170),
}
OTHER = (110, 110, 110)
BG = (250, 250, 252)
INK = (40, 40, 52)
GRID = (222, 222, 232)
SNAP = (20, 20, 28)


def _nice_max(v: int) -> int:
    """The axis top: 1, 2, 5 x 10^k at or above v."""
    if v <= 1:
        return 1
    mag = 10 ** int(math.floor(math.log10(v)))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= v)


def draw_chart(hours: list[tuple[str, Hour]], size: tuple[int, int] = (1200, 600),
               title: str = "Visitors per hour") -> pygame.Surface:
    """`hours` in order as ('YYYY-MM-DDTHH', counts); hours without visitors may be included."""
    W, H = size
    text = TextCache()
    surf = pygame.Surface(size)
    surf.fill(BG)
    px = max(12, H // 36)
    left, right, top, bottom = px * 4, px * 2, px * 3.5, px * 5.5
    plot_w, plot_h = W - left - right, H - top - bottom
    surf.blit(text.line(title, int(px * 1.4), INK), (left, px * 0.8))
    top_v = _nice_max(max((h.people for _, h in hours), default=0))
    for i in range(top_v + 1) if top_v <= 10 else range(0, top_v + 1, max(1, top_v // 5)):
        y = top + plot_h * (1 - i / top_v)
        pygame.draw.line(surf, GRID, (left, y), (left + plot_w, y), 1)
        lab = text.line(str(i), px, INK)
        surf.blit(lab, (left - lab.get_width() - px // 2, y - lab.get_height() / 2))
    n = max(1, len(hours))
    slot = plot_w / n
    bar_w = max(2.0, slot * 0.7)
    label_every = max(1, math.ceil(n / max(1, plot_w // (px * 4))))
    for i, (key, h) in enumerate(hours):
        x = left + i * slot + (slot - bar_w) / 2
        _draw_bar(surf, h, x, bar_w, top + plot_h, plot_h / top_v)
        if h.snapshots:
            pygame.draw.circle(surf, SNAP, (int(x + bar_w / 2), int(top + plot_h - h.people * plot_h / top_v - px)),
                               max(3, px // 3))
            cnt = text.line(str(h.snapshots), int(px * 0.8), SNAP)
            surf.blit(cnt, (x + bar_w / 2 + px // 2, top + plot_h - h.people * plot_h / top_v - px * 1.6))
        if i % label_every == 0:
            lab = text.line(key[11:13] + ":00", int(px * 0.85), INK)
            surf.blit(lab, (x + bar_w / 2 - lab.get_width() / 2, top + plot_h + px * 0.4))
            if i == 0 or key[11:13] == "00":
                day = text.line(key[:10], int(px * 0.85), INK)
                surf.blit(day, (x + bar_w / 2 - day.get_width() / 2, top + plot_h + px * 1.5))
    pygame.draw.line(surf, INK, (left, top + plot_h), (left + plot_w, top + plot_h), 2)
    _legend(surf, text, left, H - px * 2.2, px)
    return surf


def _draw_bar(surf: pygame.Surface, h: Hour, x: float, w: float, base: float, per_person: float) -> None:
    """A bar of h.people, split by each expression's share of the visitors' time."""
    height = h.people * per_person
    total = sum(h.expressions.values())
    if height <= 0:
        return
    if total <= 0:
        pygame.draw.rect(surf, OTHER, (int(x), int(base - height), int(w), int(math.ceil(height))))
        return
    y = base
    for name in EXPRESSIONS:
        part = height * h.expressions.get(name, 0.0) / total
        if part > 0:
            pygame.draw.rect(surf, EXPRESSION_COLOURS.get(name, OTHER), (int(x), int(y - part), int(w), int(math.ceil(part))))
            y -= part


def _legend(surf: pygame.Surface, text: TextCache, x: float, y: float, px: int) -> None:
    for name in EXPRESSIONS:
        pygame.draw.rect(surf, EXPRESSION_COLOURS[name], (int(x), int(y), px, px))
        lab = text.line(name, int(px * 0.9), INK)
        surf.blit(lab, (x + px * 1.3, y + px / 2 - lab.get_height() / 2))
        x += px * 1.3 + lab.get_width() + px
    pygame.draw.circle(surf, SNAP, (int(x + px / 2), int(y + px / 2)), max(3, px // 3))
    lab = text.line("snapshots", int(px * 0.9), INK)
    surf.blit(lab, (x + px * 1.3, y + px / 2 - lab.get_height() / 2))
