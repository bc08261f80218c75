"""Where faces go on a screen of any shape.

Faces keep the people's left-to-right order (mirror view), so x is always increasing along the
order; what adapts to the screen is the vertical arrangement. When the people stand at clearly
different heights (a child in front of a parent, four people in two rows) the row is not offered
(`tiers`), and `assign` gives each person the slot nearest their own place, so up and down are
kept as well as left and right. Candidates are a straight row, a
two-level zig-zag and a diagonal (k levels for n faces); each gets the largest diameter that keeps
circles apart, and the row wins unless another is clearly larger. A landscape screen therefore gets
a row, a portrait kiosk a diagonal instead of tiny faces in a row, and nothing is ever stretched.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache

log = logging.getLogger(__name__)

GAP = 0.12  # space between faces, fraction of the diameter
MARGIN = 0.05  # screen margin, fraction of the shorter side
SINGLE_FILL = 0.8  # one face fills at most this much of the shorter side
PREFER_ROW = 1.15  # another arrangement must be this much larger to beat a row
TIER_SPREAD = 0.25  # people this far apart vertically (fraction of the camera frame) get levels


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Slot:
    cx: float
    cy: float
    d: float  # diameter in pixels


def mirror_x(center_x: float) -> float:
    """Camera-frame x (0..1, as the camera sees it) to screen x (0..1) in mirror view.

    The camera faces the people, so a person standing on the viewer's right is at the left of the
    raw camera frame; a mirror shows them on the right. Hence the screen is the frame flipped.
    """
    return 1.0 - center_x


def _positions(n: int, k: int, area: Rect, d: float) -> list[tuple[float, float]]:
    xs = [area.x + area.w / 2] if n == 1 else [area.x + d / 2 + i * (area.w - d) / (n - 1) for i in range(n)]
    if k == 1:
        ys = [area.y + area.h / 2] * n
    else:
        levels = [area.y + d / 2 + j * (area.h - d) / (k - 1) for j in range(k)]
        ys = [levels[i % k] for i in range(n)]
    return list(zip(xs, ys))


def _fits(n: int, k: int, area: Rect, d: float) -> bool:
    if d > area.w or d > area.h:
        return False
    pts = _positions(n, k, area, d)
    need = d * (1 + GAP)
    return all(math.dist(pts[i], pts[j]) >= need for i in range(n) for j in range(i + 1, n))


def _largest(n: int, k: int, area: Rect) -> float:
    lo, hi = 0.0, min(area.w, area.h)
    if n > 1 and not _fits(n, k, area, 1.0):
        return 0.0
    for _ in range(30):
        mid = (lo + hi) / 2
        if _fits(n, k, area, mid):
            lo = mid
        else:
            hi = mid
    return lo


@lru_cache(maxsize=64)
def _face_slots(n: int, width: int, height: int, avoid: Rect | None, tiers: bool) -> tuple[Slot, ...]:
    return tuple(_compute_slots(n, width, height, avoid, tiers))


def face_slots(n: int, width: int, height: int, avoid: Rect | None = None, tiers: bool = False) -> list[Slot]:
    """Slots for n faces, left to right, in a width x height screen; `avoid` is a corner that must
    stay free (the camera picture); `tiers`: no single row. Cached: the renderer asks every frame."""
    return list(_face_slots(int(n), int(width), int(height), avoid, bool(tiers)))


def assign(places: list[tuple[float, float]], slots: list[Slot], width: int, height: int) -> list[int]:
    """For each person (screen x, camera y, both 0..1) the index of their slot: the assignment
    nearest to where they stand (at most 4 faces: 24 permutations). Ties keep the given order."""
    from itertools import permutations

    def cost(perm: tuple[int, ...]) -> float:
        return sum((px - slots[j].cx / width) ** 2 + (py - slots[j].cy / height) ** 2
                   for (px, py), j in zip(places, perm))

    return list(min(permutations(range(len(slots)), len(places)), key=cost))


def _compute_slots(n: int, width: int, height: int, avoid: Rect | None = None, tiers: bool = False) -> list[Slot]:
    """The corner to avoid is handled by trying the area beside it and the area above it."""
    if n <= 0:
        return []
    m = MARGIN * min(width, height)
    full = Rect(m, m, width - 2 * m, height - 2 * m)
    areas = [full]
    if avoid is not None:
        areas = [Rect(full.x, full.y, max(1.0, avoid.x - m - full.x), full.h),
                 Rect(full.x, full.y, full.w, max(1.0, avoid.y - m - full.y))]
    best: tuple[float, int, Rect] | None = None
    for area in areas:
        for k in range(2 if tiers and n > 1 else 1, n + 1):
            d = _largest(n, k, area)
            if k == 1 and n == 1:
                d = min(d, SINGLE_FILL * min(width, height))
            score = d if k == 1 else d / PREFER_ROW
            if best is None or score > best[0]:
                best = (score, k, area)
    _, k, area = best
    d = _largest(n, k, area)
    if n == 1:
        d = min(d, SINGLE_FILL * min(width, height))
    return [Slot(x, y, d) for x, y in _positions(n, k, area, d)]
