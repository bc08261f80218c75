"""A labelled sheet of every emoticon variant, for reviewing the art in one picture.

Rows are expressions (each without and with a mask), columns are tones grouped with their four
eyewear options, so reading along a row checks that a tone/eyewear change never hides the
expression, and reading down a column checks that the expressions stay distinct.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pygame

from edge.atomic import save_picture
from edge.render.emoticon import draw_emoticon
from edge.render.text import TextCache
from edge.state import EXPRESSIONS, TONES, EmoticonState

log = logging.getLogger(__name__)

# (label, eyewear, glasses_shape): the five eyewear variants
EYEWEAR_VARIANTS = (("none", "none", "round"), ("round", "glasses", "round"),
                    ("rect", "glasses", "rectangular"), ("plain", "glasses", "plain"), ("sun", "sunglasses", "round"))
BACKGROUND = (34, 34, 64)
GROUP_BAND = (44, 44, 80)
LABEL = (236, 236, 250)
LABEL_DIM = (170, 170, 205)


def variants() -> list[EmoticonState]:
    """All 480 states in sheet order (expression, mask, tone, eyewear)."""
    return [EmoticonState(e, t, ew, shape, m)
            for e in EXPRESSIONS for m in (False, True) for t in TONES for _, ew, shape in EYEWEAR_VARIANTS]


def make_sheet(out_path: str | Path, size: int = 96) -> Path:
    """Write every variant (8 expressions x 2 mask x 6 tones x 5 eyewear = 480) as a labelled PNG
    grid with `size`-pixel emoticons; returns the path written."""
    out_path = Path(out_path)
    text = TextCache()
    pad = max(4, size // 10)
    cell = size + pad
    label_px = max(12, size // 5)
    head_px = max(12, int(size / 4.2))
    left = int(max(text.font(label_px).size(f"{e} + mask")[0] for e in EXPRESSIONS) + 3 * pad)
    group_gap = pad * 2
    top = head_px * 2 + label_px + 3 * pad
    cols = len(TONES) * len(EYEWEAR_VARIANTS)
    width = left + cols * cell + (len(TONES) - 1) * group_gap + pad
    height = top + len(EXPRESSIONS) * 2 * cell + (len(EXPRESSIONS) - 1) * pad + pad
    sheet = pygame.Surface((width, height))
    sheet.fill(BACKGROUND)

    def col_x(ti: int, ei: int) -> int:
        return left + (ti * len(EYEWEAR_VARIANTS) + ei) * cell + ti * group_gap

    for ti, tone in enumerate(TONES):
        x0 = col_x(ti, 0)
        band_w = len(EYEWEAR_VARIANTS) * cell
        pygame.draw.rect(sheet, GROUP_BAND, (x0 - pad // 2, pad, band_w, height - 2 * pad), border_radius=pad)
        title = text.line(tone.replace("_", " "), head_px, LABEL)
        sheet.blit(title, (x0 + band_w // 2 - title.get_width() // 2 - pad // 2, pad * 2))
        for ei, (label, _, _) in enumerate(EYEWEAR_VARIANTS):
            s = text.line(label, label_px, LABEL_DIM)
            sheet.blit(s, (col_x(ti, ei) + size // 2 - s.get_width() // 2, pad * 2 + head_px + pad))
    y = top
    for expr in EXPRESSIONS:
        for mask in (False, True):
            name = f"{expr} + mask" if mask else expr
            s = text.line(name, label_px, LABEL if not mask else LABEL_DIM)
            sheet.blit(s, (pad * 2, y + size // 2 - s.get_height() // 2))
            for ti, tone in enumerate(TONES):
                for ei, (_, eyewear, shape) in enumerate(EYEWEAR_VARIANTS):
                    face = draw_emoticon(EmoticonState(expr, tone, eyewear, shape, mask), size)
                    sheet.blit(face, (col_x(ti, ei), y))
            y += cell
        y += pad
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        save_picture(sheet, out_path)
    except OSError as e:  # an unwritable place or a full disk: one line naming it, no partial file
        raise OSError(f"{out_path}: cannot write the sheet ({e.strerror or str(e).split(': ', 1)[-1]})") from None
    log.info("wrote %s (%dx%d, %d variants at %d px)", out_path, width, height, len(variants()), size)
    return out_path
