"""The face's own features drawn from FaceParams: blush, nose, mouth, eyes, brows, tears and sweat."""
from __future__ import annotations

import math

from edge.render import palette as pal
from edge.render.params import FaceParams
from edge.render.pen import (
    Pen,
    clamp,
    droplet,
    ellipse,
    ellipse_curves,
    mix,
    span,
)

EYE_X, EYE_Y = 0.34, -0.10  # eye centres; glasses are centred on them
MOUTH_Y = 0.47


def draw_blush(pen: Pen, p: FaceParams, tone: pal.TonePalette) -> None:
    if p.cheek_blush <= 0.05:
        return
    colour = mix(tone.fill, tone.blush, 0.55 * clamp(p.cheek_blush, 0, 1))
    for sgn in (-1, 1):
        pen.poly(ellipse(sgn * 0.58, 0.2, 0.15, 0.09), colour)


def draw_cheek_puff(pen: Pen, p: FaceParams, tone: pal.TonePalette) -> None:
    """Blown-out cheeks: a lit bulge on each side of the mouth with a shaded outer rim."""
    puff = clamp(p.cheek_puff, 0, 1)
    if puff <= 0.05:
        return
    rx, ry = 0.12 + 0.1 * puff, 0.1 + 0.08 * puff
    for sgn in (-1, 1):
        cx, cy = sgn * (0.5 + 0.04 * puff), 0.36
        pen.poly(ellipse(cx, cy, rx, ry), mix(tone.fill, (255, 255, 255), 0.18 * puff))
        arc = [(cx + sgn * rx * math.cos(a), cy + ry * math.sin(a)) for a in (-0.9 + 0.15 * i for i in range(13))]
        pen.stroke(arc, 0.02 + 0.01 * puff, tone.shade)


def draw_nose(pen: Pen, p: FaceParams, tone: pal.TonePalette) -> None:
    wr = clamp(p.nose_wrinkle, 0, 1)
    ny = 0.135 - 0.03 * wr
    pts = [(x, ny + 0.028 * (1 - (x / 0.06) ** 2)) for x in (-0.06 + 0.012 * i for i in range(11))]
    pen.stroke(pts, 0.03, tone.shade, depth=1.3)
    if wr > 0.05:
        for i, y in enumerate((-0.035, 0.01)):
            half = 0.05 + 0.015 * i
            pts = [(x, y - 0.02 * wr * (1 - (x / half) ** 2)) for x in (-half + half / 5 * k for k in range(11))]
            pen.stroke(pts, 0.022 * (0.6 + 0.4 * wr), tone.shade, depth=1.2)


def mouth_geometry(p: FaceParams):
    """(x0, w, base, h): the mouth's centre x and half-width, its lip line base(s) and opening h(s)
    over s in -1..1 from the viewer's left corner to the right."""
    w = 0.30 * p.mouth_width * (1 - 0.5 * clamp(p.mouth_pucker, 0, 1))
    x0 = 0.2 * clamp(p.mouth_shift, -1, 1)
    c = p.mouth_curve
    corner = MOUTH_Y - 0.06 * c
    H = 0.42 * max(0.0, p.mouth_open)
    exp_p = 2 + 6 * clamp(p.mouth_square, 0, 1)
    side = clamp(p.mouth_side, -1, 1)

    def base(s: float) -> float:
        return corner + 0.15 * c * (1 - s * s) - 0.09 * p.mouth_tilt * s

    def h(s: float) -> float:
        prof = max(0.0, 1 - abs(s) ** exp_p) ** (1 / exp_p)
        sw = clamp(1 + side * s, 0, 2) / (1 + abs(side))
        return H * prof * sw

    return x0, w, base, h


def draw_mouth(pen: Pen, p: FaceParams, tone: pal.TonePalette) -> None:
    x0, w, base, h = mouth_geometry(p)
    n = 30
    ss = [-1 + 2 * i / n for i in range(n + 1)]
    hs = [h(s) for s in ss]
    line_w = 0.05 * p.mouth_weight
    pucker = clamp(p.mouth_pucker, 0, 1)
    if max(hs) < 0.025 and pucker > 0.3:  # a kiss: a small rounded bud of lips with a crease
        bud = ellipse(x0, base(0.0), w * 1.05, 0.045 + 0.035 * pucker, 28)
        pen.poly(bud, mix(tone.feature, pal.MOUTH, 0.5))
        pen.stroke(bud, 0.03, tone.feature, closed=True)
        pen.stroke([(x0 - 0.5 * w, base(0.0)), (x0 + 0.5 * w, base(0.0))], 0.02, tone.feature)
        return
    if max(hs) < 0.025:
        pen.stroke([(x0 + s * w, base(s)) for s in ss], line_w, tone.feature)
        return
    up = clamp(p.mouth_upper, 0, 1)

    def top(s: float) -> float:
        return base(s) - h(s) * up

    def bot(s: float) -> float:
        return base(s) + h(s) * (1 - up)

    outline = [(x0 + s * w, top(s)) for s in ss] + [(x0 + s * w, bot(s)) for s in reversed(ss)]
    pen.poly(outline, pal.MOUTH)
    # tongue first, teeth over it: both are spans in s clipped to the opening
    if p.tongue > 0.05:
        th = 0.11 * p.tongue

        def t_top(s: float) -> float:
            k = max(0.0, 1 - (s / 0.62) ** 2)
            return max(top(s) + h(s) * 0.35, bot(s) - th * math.sqrt(k)) if k > 0 else bot(s)

        pen.poly([(x0 + s * w, y) for s, y in span(-0.62, 0.62, t_top, bot)], pal.TONGUE)
    both = p.teeth_upper > 0.05 and p.teeth_lower > 0.05
    if p.teeth_upper > 0.05:
        tu = 0.085 * p.teeth_upper
        frac = 0.42 if both else 0.75
        pen.poly([(x0 + s * w, y) for s, y in span(-1, 1, top, lambda s: min(top(s) + tu, top(s) + h(s) * frac))],
                 pal.TEETH)
    if p.teeth_lower > 0.05:
        tl = 0.07 * p.teeth_lower
        frac = 0.42 if both else 0.6
        pen.poly([(x0 + s * w, y) for s, y in span(-1, 1, lambda s: max(bot(s) - tl, bot(s) - h(s) * frac), bot)],
                 pal.TEETH)
    if both:  # a few tooth gaps make a clenched grimace read as teeth, not as a white bar
        for s in (-0.5, 0.0, 0.5):
            pen.stroke([(x0 + s * w, top(s) + 0.01), (x0 + s * w, bot(s) - 0.01)], 0.012, mix(pal.TEETH, pal.MOUTH, 0.35))
    pen.stroke(outline, 0.032 * p.mouth_weight, tone.feature, closed=True)



def eye_regions(p: FaceParams, sgn: int, opening: float):
    """(top, bottom) curves and x range of one eye's visible area, with lids applied."""
    white = p.eye_white >= 0.5
    cx = sgn * EYE_X + (0.0 if white else 0.035 * p.gaze_x)
    cy = EYE_Y + (0.0 if white else 0.03 * p.gaze_y)
    rx = 0.125 if white else 0.085
    ry = (0.13 if white else 0.135) * opening
    e_top, e_bot = ellipse_curves(cx, cy, rx, ry)
    squint = p.squint_l if sgn < 0 else p.squint_r
    lu, tilt, ll = clamp(p.lid_upper, 0, 1), p.lid_tilt, clamp(p.lid_lower + squint, 0, 1)

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


def draw_eyes(pen: Pen, p: FaceParams, tone: pal.TonePalette) -> None:
    for sgn in (-1, 1):
        opening = p.eye_open_l if sgn < 0 else p.eye_open_r
        cx0 = sgn * EYE_X
        if p.eye_smile >= 0.5:
            hgt = 0.1 * clamp(opening, 0.0, 1.3)
            xs = [-0.115 + 0.023 * i for i in range(11)]
            pts = [(cx0 + x, EYE_Y + 0.03 - hgt * (1 - (x / 0.115) ** 2)) for x in xs]
            pen.stroke(pts, 0.055, tone.feature)
            continue
        if opening < 0.2:  # closed: a soft downward curve
            pts = [(cx0 + x, EYE_Y + 0.02 + 0.035 * (1 - (x / 0.1) ** 2)) for x in (-0.1 + 0.02 * i for i in range(11))]
            pen.stroke(pts, 0.04, tone.feature)
            continue
        cx, cy, rx, ry, top, bot = eye_regions(p, sgn, opening)
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


def draw_brows(pen: Pen, p: FaceParams, tone: pal.TonePalette) -> None:
    for sgn in (-1, 1):
        own, outer_up = (p.brow_l, p.brow_outer_l) if sgn < 0 else (p.brow_r, p.brow_outer_r)
        yc = -0.43 - 0.1 * (p.brow_raise + own) - sgn * 0.08 * p.brow_asym
        inner = (sgn * (0.2 - 0.07 * p.brow_squeeze), yc - 0.075 * p.brow_tilt)
        outer = (sgn * (0.5 - 0.02 * p.brow_squeeze), yc + 0.045 * p.brow_tilt - 0.16 * clamp(outer_up, 0, 1))
        pts, widths = [], []
        for i in range(13):
            t = i / 12
            pts.append((inner[0] + (outer[0] - inner[0]) * t,
                        inner[1] + (outer[1] - inner[1]) * t - p.brow_arch * 0.08 * 4 * t * (1 - t)))
            widths.append((0.068 - 0.03 * t) * p.brow_weight)
        pen.stroke(pts, widths, tone.feature)


def draw_water(pen: Pen, p: FaceParams) -> None:
    drops = []
    if p.tear > 0.05:
        drops.append((-EYE_X - 0.04, 0.2, 0.07 * clamp(p.tear, 0.3, 1)))
    if p.sweat > 0.05:
        drops.append((0.63, -0.5, 0.075 * clamp(p.sweat, 0.3, 1)))
    for x, y, r in drops:
        d = droplet(x, y, r)
        pen.poly(d, pal.WATER)
        pen.stroke(d, 0.016, pal.WATER_EDGE, closed=True)
        pen.circle((x - r * 0.35, y - r * 0.2), r * 0.28, pal.HIGHLIGHT)

