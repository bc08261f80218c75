"""What the emoticon wears: a face mask over the mouth, clear glasses, sunglasses."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from edge.render import palette as pal
from edge.render.features import EYE_X, EYE_Y, mouth_geometry
from edge.render.params import FaceParams
from edge.render.pen import Pen, Point, clamp, ellipse, mix, span, superellipse

if TYPE_CHECKING:
    from edge.render.style import Style


def draw_mask(pen: Pen, p: FaceParams) -> None:
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
    x0, w, base, h = mouth_geometry(p)
    if max(h(s) for s in (-0.5, 0.0, 0.5)) > 0.04:
        up = clamp(p.mouth_upper, 0, 1)
        ss = [-1 + 2 * i / 24 for i in range(25)]
        hollow = [(x0 + s * w * 0.95, base(s) - h(s) * up * 0.9) for s in ss]
        hollow += [(x0 + s * w * 0.95, base(s) + h(s) * (1 - up) * 0.9) for s in reversed(ss)]
        pen.poly(hollow, mix(pal.MASK_FILL, pal.MASK_PLEAT, 0.55))
    bend = 0.07 * clamp(p.mouth_curve, -1, 1)
    for y0 in (0.33, 0.47, 0.61):
        pts = [(x, y0 + bend * (1 - (x / 0.68) ** 2) + 0.015 * (x / 0.68) ** 2)
               for x in (-0.68 + 1.36 * i / 16 for i in range(17))]
        pen.stroke(pts, 0.022, pal.MASK_PLEAT)
    pen.stroke(outline, 0.022, pal.MASK_EDGE, closed=True)
    # the bridge wire pinched over the nose
    pen.stroke([(x, top(x) + 0.035) for x in (-0.16 + 0.04 * i for i in range(9))], 0.02, pal.MASK_EDGE)


def lens_round(sgn: int) -> list[Point]:
    return ellipse(sgn * EYE_X, EYE_Y, 0.205, 0.205, 48)


def lens_rect(sgn: int) -> list[Point]:
    return superellipse(sgn * EYE_X, EYE_Y, 0.215, 0.178, 5.0, 56)


def lens_plain(sgn: int) -> list[Point]:
    """Neither round nor rectangular: what a frame the model is unsure of is drawn as."""
    return superellipse(sgn * EYE_X, EYE_Y, 0.21, 0.19, 2.8, 52)


# glasses_shape -> (lens outline, its half width: where the arms and the bridge meet it)
LENSES = {"round": (lens_round, 0.205), "rectangular": (lens_rect, 0.215), "plain": (lens_plain, 0.21)}


def draw_lens_tint(pen: Pen, style: Style, tone: pal.TonePalette) -> None:
    """Glass drawn before the eyes: a faint sheen on the skin and a glint, opaque pre-mixed colours."""
    lens, _ = LENSES.get(style.glasses_shape, LENSES["plain"])
    tint = mix(tone.fill, pal.LENS_TINT, 0.22)
    glint = mix(tone.fill, pal.LENS_TINT, 0.6)
    for sgn in (-1, 1):
        pen.poly(lens(sgn), tint)
        cx = sgn * EYE_X
        pen.stroke([(cx + 0.07, EYE_Y - 0.15), (cx + 0.15, EYE_Y - 0.07)], 0.03, glint)


def draw_glasses_frame(pen: Pen, style: Style) -> None:
    lens, inner = LENSES.get(style.glasses_shape, LENSES["plain"])
    fw = 0.042
    for sgn in (-1, 1):
        pen.stroke(lens(sgn), fw, pal.FRAME, closed=True)
        x0 = sgn * (EYE_X + inner)
        pen.stroke([(x0, EYE_Y - 0.04), (sgn * 0.94, EYE_Y - 0.1)], 0.036, pal.FRAME)
    xb = EYE_X - inner
    pen.stroke([(-xb, EYE_Y - 0.03), (-xb * 0.5, EYE_Y - 0.075), (0.0, EYE_Y - 0.085),
                (xb * 0.5, EYE_Y - 0.075), (xb, EYE_Y - 0.03)], 0.036, pal.FRAME)


SUN_TOP = -0.265


def sun_lens(sgn: int):
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


def draw_sunglasses(pen: Pen) -> None:
    glare = mix(pal.SUNGLASS, (255, 255, 255), 0.28)
    for sgn in (-1, 1):
        cx, rx, top, bot = sun_lens(sgn)
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

