"""Drawing one emoticon from `FaceParams` + `Style`, anti-aliased, cached per variant and size.

Why this shape:
- Anti-aliasing by supersampling (draw at 2-4x with plain pygame.draw, then smoothscale down) works
  the same on pygame 2.1.2 (Debian bookworm) and current pygame, and needs nothing else.
- Every feature is computed as points in face units (radius 1) and mapped through one transform
  (`pen.py`), so head roll and yaw (live motion) move features without any new drawing code. The
  face's features are in `features.py`, what it wears in `accessories.py`, its shading in `shading.py`.
- Overlapping parts are painted in order with opaque colours (lens tint, blush are pre-mixed), so a
  variant costs one SRCALPHA surface and one smoothscale; shading is two cached blend blits.
- The transparent surroundings are filled with the rim colour at alpha 0 so smoothscale does not
  pull a dark fringe into the anti-aliased edge.
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict

import pygame

from edge.render import accessories as acc
from edge.render import features as feat
from edge.render import palette as pal
from edge.render.params import FaceParams, expression_params
from edge.render.pen import Pen, clamp
from edge.render.shading import restore_opacity, shading
from edge.render.style import Style
from edge.state import EmoticonState

log = logging.getLogger(__name__)

CACHE_BYTES = 160 * 1024 * 1024  # the live screen's bound: a Pi 3 (1 GB) still has room; ~100 full-HD variants


def supersample(size: int) -> int:
    """Small emoticons need more samples per pixel to look smooth; large ones need fewer to be fast.
    Powers of two only: pygame's smoothscale loses ~1% (alpha 253) when shrinking by 3."""
    return 4 if size <= 260 else 2


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
    pen = Pen(surf, radius, params, line_boost=clamp((100 / size) ** 0.45, 1.0, 1.6), line_pad=1.0 if draft else 0.0)

    feat.draw_blush(pen, params, tone)
    feat.draw_cheek_puff(pen, params, tone)
    if not style.mask:
        feat.draw_nose(pen, params, tone)
        feat.draw_mouth(pen, params, tone)
    else:
        if params.nose_wrinkle > 0.05:  # the wrinkles sit above the mask edge, still visible
            feat.draw_nose(pen, params, tone)
        acc.draw_mask(pen, params)
    if style.eyewear == "glasses":
        acc.draw_lens_tint(pen, style, tone)
    if style.eyewear != "sunglasses":
        feat.draw_eyes(pen, params, tone)
    if style.eyewear == "glasses":
        acc.draw_glasses_frame(pen, style)
    elif style.eyewear == "sunglasses":
        acc.draw_sunglasses(pen)
    feat.draw_brows(pen, params, tone)
    feat.draw_water(pen, params)

    out = surf if ss == 1 else pygame.transform.smoothscale(surf, (size, size))
    restore_opacity(out)
    mult, add = shading(size)
    out.blit(mult, (0, 0), special_flags=pygame.BLEND_RGB_MULT)
    out.blit(add, (0, 0), special_flags=pygame.BLEND_RGB_ADD)
    return out


class VariantCache:
    """LRU of built variants, bounded by pixel bytes (sizes vary 30x between a gallery and a full
    HD single face, so a count limit would be wrong for one of them).

    Whoever draws owns one and passes it in (the live Renderer keeps its own): a cache shared by
    every renderer, bench and test let one of them evict the others' variants and made their build
    counts and memory figures each other's. The limit is a required argument for the same reason:
    a card printer, a gallery and a full HD screen want very different bounds."""

    def __init__(self, max_bytes: int):
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.max_bytes = int(max_bytes)
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

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0


def draw_emoticon(state: EmoticonState, size_px: int, cache: VariantCache | None = None) -> pygame.Surface:
    """The emoticon for a state at size_px x size_px, SRCALPHA (treat it as read-only): from `cache`
    when one is given, else drawn afresh (a one-off: an analyzed photo, a gallery cell)."""
    params, style = expression_params(state.expression), Style.from_state(state)
    if cache is None:
        return build_emoticon(params.quantized(), style, size_px)
    return cache.get(params, style, size_px)
