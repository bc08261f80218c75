"""Colours of the emoticon, per skin tone.

The five skin tones follow the common emoji skin-tone ramp (Fitzpatrick 1-2 .. 6), so people
recognise them as emoji tones; feature colours are derived per tone so brows and eyes keep their
contrast on the darkest face as well as on the lightest.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

log = logging.getLogger(__name__)

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class TonePalette:
    fill: RGB  # the face
    rim: RGB  # thin outline and shading colour at the edge
    shade: RGB  # nose, wrinkles, lid lines: a deeper skin colour
    feature: RGB  # brows and eyes
    blush: RGB


TONE_PALETTES: dict[str, TonePalette] = {
    "yellow": TonePalette(fill=(255, 204, 77), rim=(222, 146, 22), shade=(214, 140, 30),
                          feature=(102, 62, 8), blush=(255, 122, 92)),
    "light": TonePalette(fill=(250, 224, 208), rim=(212, 166, 142), shade=(214, 160, 136),
                         feature=(86, 56, 40), blush=(244, 136, 128)),
    "medium_light": TonePalette(fill=(240, 206, 158), rim=(202, 156, 102), shade=(200, 148, 96),
                                feature=(84, 54, 30), blush=(236, 128, 104)),
    "medium": TonePalette(fill=(210, 166, 126), rim=(166, 120, 84), shade=(164, 116, 80),
                          feature=(64, 40, 24), blush=(214, 112, 92)),
    "medium_dark": TonePalette(fill=(175, 126, 87), rim=(130, 88, 58), shade=(128, 86, 56),
                               feature=(46, 28, 16), blush=(186, 90, 72)),
    "dark": TonePalette(fill=(124, 83, 62), rim=(84, 54, 40), shade=(86, 54, 38),
                        feature=(28, 16, 10), blush=(150, 70, 60)),
}

MOUTH = (96, 30, 34)  # inside of an open mouth
TEETH = (252, 252, 250)
TONGUE = (236, 104, 112)
EYE_WHITE = (255, 255, 255)
HIGHLIGHT = (255, 255, 255)
WATER = (108, 190, 240)  # tears and sweat
WATER_EDGE = (50, 132, 206)

MASK_FILL = (214, 232, 246)  # a light blue surgical mask
MASK_EDGE = (148, 182, 210)
MASK_PLEAT = (170, 198, 222)
MASK_STRAP = (236, 242, 248)

FRAME = (40, 36, 38)  # glasses frames
LENS_TINT = (236, 246, 255)
SUNGLASS = (22, 24, 32)
SUNGLASS_FRAME = (10, 10, 14)


@lru_cache(maxsize=32)
def _warn_unknown(tone: str) -> None:
    log.warning("unknown tone %r, drawing yellow", tone)  # once per name, not per frame


def palette(tone: str) -> TonePalette:
    """The palette for a tone; an unknown tone falls back to the classic yellow."""
    p = TONE_PALETTES.get(tone)
    if p is None:
        _warn_unknown(tone)
        return TONE_PALETTES["yellow"]
    return p
