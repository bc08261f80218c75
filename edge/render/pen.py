"""The emoticon's pen: face units (centre 0, radius 1, y down) mapped to supersampled pixels.

Every feature is computed as points in face units and drawn through one transform, so head roll and
yaw (live motion) move features without any new drawing code. Shapes with lids, clipped pupils and
lens highlights are "span regions": a top and a bottom curve over an x range, so intersections are
max/min of curves and no polygon clipping library is needed.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import pygame

from edge.render.params import FaceParams

Point = tuple[float, float]
RGB = tuple[int, int, int]


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def clamp(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else hi if v > hi else v




def span(x0: float, x1: float, top: Callable[[float], float], bot: Callable[[float], float],
         n: int = 28) -> list[Point]:
    """Outline of {x0<=x<=x1, top(x)<=y<=bot(x)}: top edge left to right, bottom edge back.

    Where top meets bottom the region ends; the crossing is found by bisection so lids and clips
    keep crisp corners instead of a sampling staircase.
    """
    xs = [x0 + (x1 - x0) * i / n for i in range(n + 1)]
    inside = [top(x) < bot(x) for x in xs]
    if not any(inside):
        return []
    first = inside.index(True)
    last = len(inside) - 1 - inside[::-1].index(True)

    def edge(a: float, b: float) -> float:  # a outside, b inside
        for _ in range(12):
            m = (a + b) / 2
            if top(m) < bot(m):
                b = m
            else:
                a = m
        return (a + b) / 2

    lo = edge(xs[first - 1], xs[first]) if first > 0 else xs[0]
    hi = edge(xs[last + 1], xs[last]) if last < n else xs[-1]
    pts_x = [lo] + [x for x in xs[first:last + 1] if lo < x < hi] + [hi]
    upper = [(x, min(top(x), bot(x))) for x in pts_x]
    lower = [(x, max(top(x), bot(x))) for x in reversed(pts_x)]
    return upper + lower


def ellipse_curves(cx: float, cy: float, rx: float, ry: float
                   ) -> tuple[Callable[[float], float], Callable[[float], float]]:
    def half(x: float) -> float:
        u = (x - cx) / rx
        return ry * math.sqrt(max(0.0, 1.0 - u * u))

    return (lambda x: cy - half(x)), (lambda x: cy + half(x))


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 40) -> list[Point]:
    return [(cx + rx * math.cos(2 * math.pi * i / n), cy + ry * math.sin(2 * math.pi * i / n)) for i in range(n)]


def superellipse(cx: float, cy: float, rx: float, ry: float, p: float, n: int = 56) -> list[Point]:
    pts = []
    for i in range(n):
        a = 2 * math.pi * i / n
        c, s = math.cos(a), math.sin(a)
        pts.append((cx + rx * math.copysign(abs(c) ** (2 / p), c), cy + ry * math.copysign(abs(s) ** (2 / p), s)))
    return pts


def droplet(x: float, y: float, r: float) -> list[Point]:
    """A drop hanging from a point at (x, y - 1.9 r) with its round belly centred at (x, y)."""
    pts = [(x, y - 1.9 * r)]
    for i in range(1, 24):
        a = -math.pi / 2 + 0.55 + (2 * math.pi - 1.1) * i / 24
        pts.append((x + r * math.cos(a), y + r * math.sin(a)))
    return pts



class Pen:
    """Maps face units to supersampled pixels (with head roll/yaw) and draws there."""

    def __init__(self, surf: pygame.Surface, radius_px: float, params: FaceParams, line_boost: float = 1.0,
                 line_pad: float = 0.0):
        self.surf = surf
        self.boost = line_boost  # thicker lines on small emoticons, as emoji fonts do
        self.pad = line_pad  # px added to strokes: unsmoothed edges draw ~1 px thinner than smoothed ones
        w, h = surf.get_size()
        self.cx, self.cy = w / 2, h / 2
        self.r = radius_px
        a = math.radians(params.head_roll)
        self.cos, self.sin = math.cos(a), math.sin(a)
        self.yaw = params.head_yaw

    def px(self, p: Point, depth: float = 1.0) -> tuple[float, float]:
        x, y = p
        x += self.yaw * 0.14 * depth * math.sqrt(max(0.0, 1 - y * y))  # features slide on a sphere
        xr = x * self.cos - y * self.sin
        yr = x * self.sin + y * self.cos
        return self.cx + xr * self.r, self.cy + yr * self.r

    def poly(self, pts: Sequence[Point], colour: RGB, depth: float = 1.0) -> None:
        if len(pts) >= 3:
            pygame.draw.polygon(self.surf, colour, [self.px(p, depth) for p in pts])

    def circle(self, c: Point, r: float, colour: RGB, depth: float = 1.0) -> None:
        x, y = self.px(c, depth)
        pygame.draw.circle(self.surf, colour, (x, y), max(1.0, r * self.r))

    def stroke(self, pts: Sequence[Point], width: float | Sequence[float], colour: RGB,
               closed: bool = False, depth: float = 1.0) -> None:
        """A thick polyline with round joins and caps; `width` may vary along it (tapered brows)."""
        if len(pts) < 2:
            return
        widths = [width] * len(pts) if isinstance(width, (int, float)) else list(width)
        pp = [self.px(p, depth) for p in pts]
        ww = [max(1.0, w * self.r * self.boost) + self.pad for w in widths]
        if closed:
            pp = pp + [pp[0]]
            ww = ww + [ww[0]]
        for i in range(len(pp) - 1):
            (x0, y0), (x1, y1) = pp[i], pp[i + 1]
            dx, dy = x1 - x0, y1 - y0
            ln = math.hypot(dx, dy)
            if ln < 1e-6:
                continue
            nx, ny = -dy / ln, dx / ln
            h0, h1 = ww[i] / 2, ww[i + 1] / 2
            pygame.draw.polygon(self.surf, colour, [(x0 + nx * h0, y0 + ny * h0), (x1 + nx * h1, y1 + ny * h1),
                                                    (x1 - nx * h1, y1 - ny * h1), (x0 - nx * h0, y0 - ny * h0)])
        for (x, y), w in zip(pp, ww):
            pygame.draw.circle(self.surf, colour, (x, y), w / 2)

