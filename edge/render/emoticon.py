"""Drawing one emoticon from `FaceParams` + `Style`, anti-aliased, cached per variant and size.

Why this shape:
- Anti-aliasing by supersampling (draw at 2-4x with plain pygame.draw, then smoothscale down) works
  the same on pygame 2.1.2 (Debian bookworm) and current pygame, and needs nothing else.
- Every feature is computed as points in face units (radius 1) and mapped through one transform, so
  head roll and yaw (live motion) move features without any new drawing code.
- Shapes with lids, clipped pupils, lens highlights are "span regions": a top and a bottom curve over
  an x range. Intersections are then just max/min of curves, no polygon clipping library.
- Overlapping parts are painted in order with opaque colours (lens tint, blush are pre-mixed), so a
  variant costs one SRCALPHA surface and one smoothscale; shading is two cached blend blits.
- The transparent surroundings are filled with the rim colour at alpha 0 so smoothscale does not
  pull a dark fringe into the anti-aliased edge.
"""
from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pygame

from edge.render import palette as pal
from edge.render.params import FaceParams, expression_params
from edge.state import EmoticonState

log = logging.getLogger(__name__)

Point = tuple[float, float]
RGB = tuple[int, int, int]

EYE_X, EYE_Y = 0.34, -0.10  # eye centres; glasses are centred on them
MOUTH_Y = 0.47
CACHE_BYTES = 160 * 1024 * 1024  # a Pi 3 (1 GB) still has room; ~100 full-HD-sized variants


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _clamp(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else hi if v > hi else v


@dataclass(frozen=True)
class Style:
    """What the emoticon wears and its colour: everything that is not the expression."""

    tone: str = "yellow"
    eyewear: str = "none"
    glasses_shape: str = "round"
    mask: bool = False

    @staticmethod
    def from_state(state: EmoticonState) -> "Style":
        # glasses_shape only matters with glasses; normalising it keeps the cache free of duplicates
        shape = state.glasses_shape if state.eyewear == "glasses" else "round"
        return Style(state.tone, state.eyewear, shape, bool(state.mask))


def supersample(size: int) -> int:
    """Small emoticons need more samples per pixel to look smooth; large ones need fewer to be fast.
    Powers of two only: pygame's smoothscale loses ~1% (alpha 253) when shrinking by 3."""
    return 4 if size <= 260 else 2


# --------------------------------------------------------------------------------------------------
# geometry helpers (face units: centre (0, 0), radius 1, y down)


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


# --------------------------------------------------------------------------------------------------


class _Pen:
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


# --------------------------------------------------------------------------------------------------
# features


def _draw_blush(pen: _Pen, p: FaceParams, tone: pal.TonePalette) -> None:
    if p.cheek_blush <= 0.05:
        return
    colour = _mix(tone.fill, tone.blush, 0.55 * _clamp(p.cheek_blush, 0, 1))
    for sgn in (-1, 1):
        pen.poly(ellipse(sgn * 0.58, 0.2, 0.15, 0.09), colour)


def _draw_nose(pen: _Pen, p: FaceParams, tone: pal.TonePalette) -> None:
    wr = _clamp(p.nose_wrinkle, 0, 1)
    ny = 0.135 - 0.03 * wr
    pts = [(x, ny + 0.028 * (1 - (x / 0.06) ** 2)) for x in (-0.06 + 0.012 * i for i in range(11))]
    pen.stroke(pts, 0.03, tone.shade, depth=1.3)
    if wr > 0.05:
        for i, y in enumerate((-0.035, 0.01)):
            half = 0.05 + 0.015 * i
            pts = [(x, y - 0.02 * wr * (1 - (x / half) ** 2)) for x in (-half + half / 5 * k for k in range(11))]
            pen.stroke(pts, 0.022 * (0.6 + 0.4 * wr), tone.shade, depth=1.2)


def _mouth_geometry(p: FaceParams):
    w = 0.30 * p.mouth_width
    c = p.mouth_curve
    corner = MOUTH_Y - 0.06 * c
    H = 0.42 * max(0.0, p.mouth_open)
    exp_p = 2 + 6 * _clamp(p.mouth_square, 0, 1)
    side = _clamp(p.mouth_side, -1, 1)

    def base(s: float) -> float:
        return corner + 0.15 * c * (1 - s * s) - 0.09 * p.mouth_tilt * s

    def h(s: float) -> float:
        prof = max(0.0, 1 - abs(s) ** exp_p) ** (1 / exp_p)
        sw = _clamp(1 + side * s, 0, 2) / (1 + abs(side))
        return H * prof * sw

    return w, base, h


def _draw_mouth(pen: _Pen, p: FaceParams, tone: pal.TonePalette) -> None:
    w, base, h = _mouth_geometry(p)
    n = 30
    ss = [-1 + 2 * i / n for i in range(n + 1)]
    hs = [h(s) for s in ss]
    line_w = 0.05 * p.mouth_weight
    if max(hs) < 0.025:
        pen.stroke([(s * w, base(s)) for s in ss], line_w, tone.feature)
        return
    up = _clamp(p.mouth_upper, 0, 1)

    def top(s: float) -> float:
        return base(s) - h(s) * up

    def bot(s: float) -> float:
        return base(s) + h(s) * (1 - up)

    outline = [(s * w, top(s)) for s in ss] + [(s * w, bot(s)) for s in reversed(ss)]
    pen.poly(outline, pal.MOUTH)
    # tongue first, teeth over it: both are spans in s clipped to the opening
    if p.tongue > 0.05:
        th = 0.11 * p.tongue

        def t_top(s: float) -> float:
            k = max(0.0, 1 - (s / 0.62) ** 2)
            return max(top(s) + h(s) * 0.35, bot(s) - th * math.sqrt(k)) if k > 0 else bot(s)

        pen.poly([(s * w, y) for s, y in span(-0.62, 0.62, t_top, bot)], pal.TONGUE)
    both = p.teeth_upper > 0.05 and p.teeth_lower > 0.05
    if p.teeth_upper > 0.05:
        tu = 0.085 * p.teeth_upper
        frac = 0.42 if both else 0.75
        pen.poly([(s * w, y) for s, y in span(-1, 1, top, lambda s: min(top(s) + tu, top(s) + h(s) * frac))],
                 pal.TEETH)
    if p.teeth_lower > 0.05:
        tl = 0.07 * p.teeth_lower
        frac = 0.42 if both else 0.6
        pen.poly([(s * w, y) for s, y in span(-1, 1, lambda s: max(bot(s) - tl, bot(s) - h(s) * frac), bot)],
                 pal.TEETH)
    if both:  # a few tooth gaps make a clenched grimace read as teeth, not as a white bar
        for s in (-0.5, 0.0, 0.5):
            pen.stroke([(s * w, top(s) + 0.01), (s * w, bot(s) - 0.01)], 0.012, _mix(pal.TEETH, pal.MOUTH, 0.35))
    pen.stroke(outline, 0.032 * p.mouth_weight, tone.feature, closed=True)


def _draw_mask(pen: _Pen, p: FaceParams) -> None:
    def top(x: float) -> float:
        return 0.105 - 0.075 * math.exp(-(x / 0.2) ** 2) + 0.02 * (x / 0.8) ** 2

    def bot(x: float) -> float:
        return 0.84 - 0.2 * (x / 0.72) ** 2

    xs = [-0.8 + 1.6 * i / 32 for i in range(33)]
    upper = [(x, top(x)) for x in xs]
    bottom = [(x, bot(x)) for x in (0.7 - 1.4 * i / 28 for i in range(29))]

    def side(sgn: int) -> list[Point]:  # rounded side from the top corner down to the bottom corner
        (x0, y0), (x1, y1) = (sgn * 0.8, top(0.8)), (sgn * 0.7, bot(0.7))
        return [(x0 + (x1 - x0) * t + sgn * 0.09 * math.sin(math.pi * t), y0 + (y1 - y0) * t)
                for t in (i / 10 for i in range(1, 10))]

    outline = upper + side(1) + bottom + side(-1)[::-1]
    for sgn in (-1, 1):  # ear loops, under the mask edge
        pen.stroke([(sgn * 0.78, top(0.78) + 0.03), (sgn * 0.96, -0.1)], 0.03, pal.MASK_STRAP)
        pen.stroke([(sgn * 0.7, bot(0.7) - 0.05), (sgn * 0.9, 0.36)], 0.03, pal.MASK_STRAP)
    pen.poly(outline, pal.MASK_FILL)
    # the mouth underneath shows through: an open mouth as a soft hollow, a smile or frown bends
    # the pleats - so happy / sad / surprise still read with a mask on
    w, base, h = _mouth_geometry(p)
    if max(h(s) for s in (-0.5, 0.0, 0.5)) > 0.04:
        up = _clamp(p.mouth_upper, 0, 1)
        ss = [-1 + 2 * i / 24 for i in range(25)]
        hollow = [(s * w * 0.95, base(s) - h(s) * up * 0.9) for s in ss]
        hollow += [(s * w * 0.95, base(s) + h(s) * (1 - up) * 0.9) for s in reversed(ss)]
        pen.poly(hollow, _mix(pal.MASK_FILL, pal.MASK_PLEAT, 0.55))
    bend = 0.07 * _clamp(p.mouth_curve, -1, 1)
    for y0 in (0.33, 0.47, 0.61):
        pts = [(x, y0 + bend * (1 - (x / 0.68) ** 2) + 0.015 * (x / 0.68) ** 2)
               for x in (-0.68 + 1.36 * i / 16 for i in range(17))]
        pen.stroke(pts, 0.022, pal.MASK_PLEAT)
    pen.stroke(outline, 0.022, pal.MASK_EDGE, closed=True)
    # the bridge wire pinched over the nose
    pen.stroke([(x, top(x) + 0.035) for x in (-0.16 + 0.04 * i for i in range(9))], 0.02, pal.MASK_EDGE)


def _eye_regions(p: FaceParams, sgn: int, opening: float):
    """(top, bottom) curves and x range of one eye's visible area, with lids applied."""
    white = p.eye_white >= 0.5
    cx = sgn * EYE_X + (0.0 if white else 0.035 * p.gaze_x)
    cy = EYE_Y + (0.0 if white else 0.03 * p.gaze_y)
    rx = 0.125 if white else 0.085
    ry = (0.13 if white else 0.135) * opening
    e_top, e_bot = ellipse_curves(cx, cy, rx, ry)
    lu, tilt, ll = _clamp(p.lid_upper, 0, 1), p.lid_tilt, _clamp(p.lid_lower, 0, 1)

    def top(x: float) -> float:
        t = e_top(x)
        if lu > 0.01:
            inner = (x - cx) * (-sgn) / rx  # +1 at the nose side
            t = max(t, cy - ry + 2 * ry * lu * (1 + 0.9 * tilt * inner) - 0.01)
        return t

    def bot(x: float) -> float:
        b = e_bot(x)
        if ll > 0.01:
            u = (x - cx) / rx
            b = min(b, cy + ry - 2 * ry * ll + 0.5 * ry * ll * u * u)
        return b

    return cx, cy, rx, ry, top, bot


def _draw_eyes(pen: _Pen, p: FaceParams, tone: pal.TonePalette) -> None:
    for sgn in (-1, 1):
        opening = p.eye_open_l if sgn < 0 else p.eye_open_r
        cx0 = sgn * EYE_X
        if p.eye_smile >= 0.5:
            hgt = 0.1 * _clamp(opening, 0.0, 1.3)
            xs = [-0.115 + 0.023 * i for i in range(11)]
            pts = [(cx0 + x, EYE_Y + 0.03 - hgt * (1 - (x / 0.115) ** 2)) for x in xs]
            pen.stroke(pts, 0.055, tone.feature)
            continue
        if opening < 0.2:  # closed: a soft downward curve
            pts = [(cx0 + x, EYE_Y + 0.02 + 0.035 * (1 - (x / 0.1) ** 2)) for x in (-0.1 + 0.02 * i for i in range(11))]
            pen.stroke(pts, 0.04, tone.feature)
            continue
        cx, cy, rx, ry, top, bot = _eye_regions(p, sgn, opening)
        if p.eye_white >= 0.5:
            sclera = span(cx - rx, cx + rx, top, bot)
            pen.poly(sclera, pal.EYE_WHITE)
            pr = 0.068 * p.pupil
            px, py = cx + 0.055 * p.gaze_x, cy + 0.05 * p.gaze_y
            pt, pb = ellipse_curves(px, py, pr, pr)
            pen.poly(span(px - pr, px + pr, lambda x: max(pt(x), top(x)), lambda x: min(pb(x), bot(x)), 16),
                     tone.feature)
            hl = (px - pr * 0.35, py - pr * 0.4)
            if top(hl[0]) < hl[1] < bot(hl[0]):
                pen.circle(hl, pr * 0.32, pal.HIGHLIGHT)
            pen.stroke(sclera, 0.022, tone.feature, closed=True)
        else:
            pen.poly(span(cx - rx, cx + rx, top, bot), tone.feature)
            hx, hy = cx - 0.028, cy - ry * 0.45
            if top(hx) + 0.02 < hy < bot(hx) - 0.02:
                pen.circle((hx, hy), 0.024, pal.HIGHLIGHT)


def _lens_round(sgn: int) -> list[Point]:
    return ellipse(sgn * EYE_X, EYE_Y, 0.205, 0.205, 48)


def _lens_rect(sgn: int) -> list[Point]:
    return superellipse(sgn * EYE_X, EYE_Y, 0.215, 0.178, 5.0, 56)


def _draw_lens_tint(pen: _Pen, style: Style, tone: pal.TonePalette) -> None:
    """Glass drawn before the eyes: a faint sheen on the skin and a glint, opaque pre-mixed colours."""
    lens = _lens_round if style.glasses_shape == "round" else _lens_rect
    tint = _mix(tone.fill, pal.LENS_TINT, 0.22)
    glint = _mix(tone.fill, pal.LENS_TINT, 0.6)
    for sgn in (-1, 1):
        pen.poly(lens(sgn), tint)
        cx = sgn * EYE_X
        pen.stroke([(cx + 0.07, EYE_Y - 0.15), (cx + 0.15, EYE_Y - 0.07)], 0.03, glint)


def _draw_glasses_frame(pen: _Pen, style: Style) -> None:
    lens = _lens_round if style.glasses_shape == "round" else _lens_rect
    inner = 0.205 if style.glasses_shape == "round" else 0.215
    fw = 0.042
    for sgn in (-1, 1):
        pen.stroke(lens(sgn), fw, pal.FRAME, closed=True)
        x0 = sgn * (EYE_X + inner)
        pen.stroke([(x0, EYE_Y - 0.04), (sgn * 0.94, EYE_Y - 0.1)], 0.036, pal.FRAME)
    xb = EYE_X - inner
    pen.stroke([(-xb, EYE_Y - 0.03), (-xb * 0.5, EYE_Y - 0.075), (0.0, EYE_Y - 0.085),
                (xb * 0.5, EYE_Y - 0.075), (xb, EYE_Y - 0.03)], 0.036, pal.FRAME)


SUN_TOP = -0.265


def _sun_lens(sgn: int):
    cx, cy, rx, ry, ex = sgn * 0.365, -0.09, 0.29, 0.2, 2.8

    def half(x: float) -> float:
        u = min(1.0, abs((x - cx) / rx))
        return ry * (1 - u ** ex) ** (1 / ex)

    def top(x: float) -> float:
        return max(cy - half(x), SUN_TOP)

    def bot(x: float) -> float:
        inner = (x - cx) * (-sgn) / rx  # the nose side is shallower
        return cy + half(x) * (1 - 0.22 * max(0.0, inner))

    return cx, rx, top, bot


def _draw_sunglasses(pen: _Pen) -> None:
    glare = _mix(pal.SUNGLASS, (255, 255, 255), 0.28)
    for sgn in (-1, 1):
        cx, rx, top, bot = _sun_lens(sgn)
        outline = span(cx - rx, cx + rx, top, bot, 40)
        pen.stroke([(sgn * (abs(cx) + rx - 0.03), SUN_TOP + 0.03), (sgn * 0.95, SUN_TOP - 0.04)], 0.03,
                   pal.SUNGLASS_FRAME)
        pen.poly(outline, pal.SUNGLASS)
        # a diagonal glint across the upper outer part of each lens
        a = cx + sgn * 0.02

        def g_top(x: float, a: float = a) -> float:
            return max(top(x), -0.05 - 1.3 * (x - a) * sgn * -1 - 0.2)

        def g_bot(x: float, a: float = a) -> float:
            return min(bot(x), -0.05 - 1.3 * (x - a) * sgn * -1 - 0.12)

        pen.poly(span(cx - rx, cx + rx, g_top, g_bot, 30), glare)
        pen.stroke(outline, 0.03, pal.SUNGLASS_FRAME, closed=True)
    pen.stroke([(-0.6, SUN_TOP + 0.012), (0.6, SUN_TOP + 0.012)], 0.05, pal.SUNGLASS_FRAME)


def _draw_brows(pen: _Pen, p: FaceParams, tone: pal.TonePalette) -> None:
    for sgn in (-1, 1):
        yc = -0.43 - 0.1 * p.brow_raise - sgn * 0.08 * p.brow_asym
        inner = (sgn * (0.2 - 0.07 * p.brow_squeeze), yc - 0.075 * p.brow_tilt)
        outer = (sgn * (0.5 - 0.02 * p.brow_squeeze), yc + 0.045 * p.brow_tilt)
        pts, widths = [], []
        for i in range(13):
            t = i / 12
            pts.append((inner[0] + (outer[0] - inner[0]) * t,
                        inner[1] + (outer[1] - inner[1]) * t - p.brow_arch * 0.08 * 4 * t * (1 - t)))
            widths.append((0.068 - 0.03 * t) * p.brow_weight)
        pen.stroke(pts, widths, tone.feature)


def _draw_water(pen: _Pen, p: FaceParams) -> None:
    drops = []
    if p.tear > 0.05:
        drops.append((-EYE_X - 0.04, 0.2, 0.07 * _clamp(p.tear, 0.3, 1)))
    if p.sweat > 0.05:
        drops.append((0.63, -0.5, 0.075 * _clamp(p.sweat, 0.3, 1)))
    for x, y, r in drops:
        d = droplet(x, y, r)
        pen.poly(d, pal.WATER)
        pen.stroke(d, 0.016, pal.WATER_EDGE, closed=True)
        pen.circle((x - r * 0.35, y - r * 0.2), r * 0.28, pal.HIGHLIGHT)


# --------------------------------------------------------------------------------------------------
# shading, per size


_SHADING: "OrderedDict[int, tuple[pygame.Surface, pygame.Surface]]" = OrderedDict()


def _shading(size: int) -> tuple[pygame.Surface, pygame.Surface]:
    """A multiply layer (edge darkening) and an add layer (top-left gloss) for one size, cached:
    smooth gradients need no supersampling, so they are made once at the final size."""
    hit = _SHADING.get(size)
    if hit is not None:
        _SHADING.move_to_end(size)
        return hit
    n = min(size, max(48, size // 4))  # smooth gradients: compute small, scale up
    c = (n - 1) / 2
    r = n / 2 - n / size
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    x = (xx - c) / r
    y = (yy - c) / r
    d_off = np.sqrt((x + 0.22) ** 2 + (y + 0.3) ** 2)
    dark = 0.2 * np.clip((d_off - 0.75) / 0.75, 0, 1) ** 1.6
    mult = np.clip(255 * (1 - dark), 0, 255).astype(np.uint8)
    gloss = 34 * np.exp(-((x + 0.3) ** 2 / (2 * 0.3 ** 2) + (y + 0.52) ** 2 / (2 * 0.17 ** 2)))
    add = np.clip(gloss, 0, 255).astype(np.uint8)
    outside = x * x + y * y > 1.1
    mult[outside] = 255
    add[outside] = 0
    layers = []
    for arr in (mult, add):
        small = pygame.image.frombuffer(np.repeat(arr[:, :, None], 3, axis=2).tobytes(), (n, n), "RGB")
        layer = pygame.Surface((size, size))
        layer.blit(small if n == size else pygame.transform.smoothscale(small, (size, size)), (0, 0))
        layers.append(layer)
    m_surf, a_surf = layers
    _SHADING[size] = (m_surf, a_surf)
    while len(_SHADING) > 24:
        _SHADING.popitem(last=False)
    return m_surf, a_surf


# --------------------------------------------------------------------------------------------------


def _restore_opacity(out: pygame.Surface) -> None:
    """Make the inside of the face exactly opaque again if this pygame's smoothscale rounded it
    down (a face that is 99% opaque lets crossfades and the background shimmer through)."""
    c = out.get_width() // 2
    inner = out.get_at((c, c)).a
    if 0 < inner < 255:
        lut = np.minimum(255, np.round(np.arange(256) * (255 / inner))).astype(np.uint8)
        alpha = pygame.surfarray.pixels_alpha(out)
        alpha[...] = lut[alpha]
        del alpha  # releases the surface lock


def build_emoticon(params: FaceParams, style: Style, size: int, draft: bool = False) -> pygame.Surface:
    """Draw one variant, uncached. Returns a size x size SRCALPHA surface.

    `draft` skips the supersampling (about 5x cheaper, edges not anti-aliased): live motion shows a
    draft the frame a new pose appears and swaps in the smooth variant once it is built."""
    size = max(8, int(size))
    tone = pal.palette(style.tone)
    ss = 1 if draft else supersample(size)
    S = size * ss
    surf = pygame.Surface((S, S), pygame.SRCALPHA)
    surf.fill((*tone.rim, 0))
    radius = (size / 2 - 0.75) * ss
    pygame.draw.circle(surf, tone.rim, (S / 2, S / 2), radius)
    pygame.draw.circle(surf, tone.fill, (S / 2, S / 2), radius - max(ss * 0.9, radius * 0.028))
    pen = _Pen(surf, radius, params, line_boost=_clamp((100 / size) ** 0.45, 1.0, 1.6), line_pad=1.0 if draft else 0.0)

    _draw_blush(pen, params, tone)
    if not style.mask:
        _draw_nose(pen, params, tone)
        _draw_mouth(pen, params, tone)
    else:
        if params.nose_wrinkle > 0.05:  # the wrinkles sit above the mask edge, still visible
            _draw_nose(pen, params, tone)
        _draw_mask(pen, params)
    if style.eyewear == "glasses":
        _draw_lens_tint(pen, style, tone)
    if style.eyewear != "sunglasses":
        _draw_eyes(pen, params, tone)
    if style.eyewear == "glasses":
        _draw_glasses_frame(pen, style)
    elif style.eyewear == "sunglasses":
        _draw_sunglasses(pen)
    _draw_brows(pen, params, tone)
    _draw_water(pen, params)

    out = surf if ss == 1 else pygame.transform.smoothscale(surf, (size, size))
    _restore_opacity(out)
    mult, add = _shading(size)
    out.blit(mult, (0, 0), special_flags=pygame.BLEND_RGB_MULT)
    out.blit(add, (0, 0), special_flags=pygame.BLEND_RGB_ADD)
    return out


class VariantCache:
    """LRU of built variants, bounded by pixel bytes (sizes vary 30x between a gallery and a full
    HD single face, so a count limit would be wrong for one of them)."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, pygame.Surface] = OrderedDict()
        self._bytes = 0
        self.builds = 0
        self.build_ms_last = 0.0

    @staticmethod
    def key(params: FaceParams, style: Style, size: int, draft: bool = False) -> tuple:
        return (params.quantized(), style, int(size), draft)

    def peek(self, params: FaceParams, style: Style, size: int, draft: bool = False) -> pygame.Surface | None:
        k = self.key(params, style, size, draft)
        surf = self._items.get(k)
        if surf is not None:
            self._items.move_to_end(k)
        return surf

    def get(self, params: FaceParams, style: Style, size: int, draft: bool = False) -> pygame.Surface:
        k = self.key(params, style, size, draft)
        surf = self._items.get(k)
        if surf is not None:
            self._items.move_to_end(k)
            return surf
        t0 = time.perf_counter()
        surf = build_emoticon(k[0], style, int(size), draft)
        self.build_ms_last = (time.perf_counter() - t0) * 1000
        self.builds += 1
        self._items[k] = surf
        self._bytes += surf.get_width() * surf.get_height() * 4
        while self._bytes > self.max_bytes and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self._bytes -= old.get_width() * old.get_height() * 4
        return surf

    @property
    def bytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0


CACHE = VariantCache()


def draw_emoticon(state: EmoticonState, size_px: int) -> pygame.Surface:
    """The emoticon for a state at size_px x size_px, SRCALPHA, cached (treat it as read-only)."""
    return CACHE.get(expression_params(state.expression), Style.from_state(state), size_px)
