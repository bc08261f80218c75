"""Text for the attract, message and overlay screens.

pygame.font is initialised lazily here (the renderer must work before and without a display), and
rendered lines are cached because the same few strings are drawn sixty times a second. Text the
configured font cannot draw (a Korean title in the built-in Latin font) gets a font for its script
from edge/render/fonts.py, so a kiosk shows glyphs, not boxes.
"""
from __future__ import annotations

import logging
from collections import OrderedDict

import pygame

from edge.render.fonts import (NUMBER, RTL, fallback_for, has_glyphs, missing, numbers_apart, open_font, script_of,
                               script_runs)

log = logging.getLogger(__name__)

RGB = tuple[int, int, int]

# Characters some fonts lack, with plain stand-ins: a kiosk must never show a tofu box.
FALLBACKS = {"\u2014": "-", "\u2013": "-", "\u2026": "...", "\u2019": "'", "\u2018": "'", "\u201c": '"',
             "\u201d": '"'}


class TextCache:
    """Fonts by (face, px) and rendered lines by (text, px, colour, face), LRU-bounded.

    `font_path`: the exhibitor's font file (None = pygame's built-in font)."""

    def __init__(self, max_lines: int = 256, font_path: str | None = None):
        self.font_path = font_path
        self._fonts: dict[tuple, pygame.font.Font] = {}
        self._lines: OrderedDict[tuple, pygame.Surface] = OrderedDict()
        self._wraps: dict[tuple, tuple[list[str], int]] = {}
        self._max = max_lines
        self._mono_path: str | None | bool = False  # False = not looked up yet

    def font(self, px: int, mono: bool = False) -> pygame.font.Font:
        if not pygame.font.get_init():
            pygame.font.init()
        face = "mono" if mono else "sans"
        f = self._fonts.get((face, px))
        if f is None:
            f = open_font(self._mono() if mono else self.font_path, px)
            self._fonts[(face, px)] = f
        return f

    def font_for(self, text: str, px: int) -> pygame.font.Font:
        """The configured font when it can draw `text`; else one for the text's script. Right-to-left
        text always gets a font opened for its script, so that it is shaped and runs right to left."""
        main = self.font(px)
        if all(ord(ch) < 128 for ch in text):
            return main
        script = script_of(text)
        if script is None or (script not in RTL and has_glyphs(main, text)):
            return main
        path = self.font_path if has_glyphs(main, text) else (fallback_for(script) or self.font_path)
        f = self._fonts.get((path, px, script))
        if f is None:
            f = self._fonts[(path, px, script)] = open_font(path, px, script)
        return f

    def _mono(self) -> str | None:
        if self._mono_path is False:
            try:
                self._mono_path = pygame.font.match_font("dejavusansmono,liberationmono,freemono,monospace")
            except Exception:  # match_font shells out to fc-list; absent on minimal images
                log.debug("no monospace font lookup", exc_info=True)
                self._mono_path = None
        return self._mono_path or None

    def printable(self, text: str, font: pygame.font.Font) -> str:
        """`text` with characters the font has no glyph for replaced by ASCII stand-ins."""
        if all(ord(ch) < 128 for ch in text):
            return text
        return "".join(FALLBACKS.get(ch, "?") if ord(ch) >= 128 and missing(font, ch) else ch for ch in text)

    def runs(self, text: str, px: int) -> list[tuple[str, pygame.font.Font]]:
        """`text` as (printable run, font) pieces in logical order: one piece when one font can draw
        it all, else one per script (Korean, then an Arabic phrase, then Latin...). A number inside
        right-to-left text is a piece of its own, drawn left to right; in a left-to-right line the
        pieces of such a phrase come right to left, as they are drawn."""
        whole = self.font_for(text, px)
        parts = script_runs(text)
        numbers = NUMBER.search(text) and any(sc in RTL for _, sc in parts)
        if (not numbers and len({sc for _, sc in parts if sc is not None}) <= 1
                and (has_glyphs(whole, text) or len(parts) == 1)):
            return [(self.printable(text, whole), whole)]
        rtl_line = next((sc for _, sc in parts if sc), None) in RTL  # _render_runs turns the whole line
        out = []
        for run, sc in parts:
            font = self.font_for(run, px) if sc is not None else self.font(px)
            pieces = numbers_apart(run) if sc in RTL else [run]
            for piece in pieces if rtl_line else pieces[::-1]:
                f = getattr(font, "unshaped", font) if NUMBER.fullmatch(piece) else font
                out.append((self.printable(piece, f), f))
        return out

    def width(self, text: str, px: int) -> int:
        return sum(font.size(run)[0] for run, font in self.runs(text, px))

    def line(self, text: str, px: int, colour: RGB, mono: bool = False) -> pygame.Surface:
        key = (text, px, colour, mono)
        surf = self._lines.get(key)
        if surf is None:
            if mono:
                font = self.font(px, mono)
                surf = font.render(self.printable(text, font), True, colour)
            else:
                surf = self._render_runs(self.runs(text, px), colour)
            self._lines[key] = surf
            while len(self._lines) > self._max:
                self._lines.popitem(last=False)
        else:
            self._lines.move_to_end(key)
        return surf

    @staticmethod
    def _render_runs(runs: list[tuple[str, pygame.font.Font]], colour: RGB) -> pygame.Surface:
        """Pieces side by side on one baseline; right to left when the line starts in an RTL script."""
        if len(runs) == 1:
            return runs[0][1].render(runs[0][0], True, colour)
        pieces = [(font.render(run, True, colour), font.get_ascent()) for run, font in runs]
        if script_of(next((run for run, _ in runs if script_of(run)), "")) in RTL:
            pieces.reverse()
        ascent = max(a for _, a in pieces)
        h = max(ascent - a + s.get_height() for s, a in pieces)
        out = pygame.Surface((sum(s.get_width() for s, _ in pieces), h), pygame.SRCALPHA)
        x = 0
        for s, a in pieces:
            out.blit(s, (x, ascent - a))
            x += s.get_width()
        return out

    def wrap(self, text: str, px: int, max_w: float, min_px: int = 12, max_lines: int = 3) -> tuple[list[str], int]:
        """Greedy word wrap to `max_w`; shrinks the font when the words cannot fit in `max_lines`.
        Cached: the attract screen asks every frame, and shaping each candidate line is not free."""
        key = (text, px, max_w, min_px, max_lines)
        hit = self._wraps.get(key)
        if hit is None:
            hit = self._wraps[key] = self._wrap(text, px, max_w, min_px, max_lines)
            if len(self._wraps) > self._max:
                self._wraps.pop(next(iter(self._wraps)))
        return list(hit[0]), hit[1]

    def _wrap(self, text: str, px: int, max_w: float, min_px: int, max_lines: int) -> tuple[list[str], int]:
        while True:
            lines: list[str] = []
            for para in text.split("\n"):
                cur = ""
                for word in para.split():
                    cand = f"{cur} {word}".strip()
                    if cur and self.width(cand, px) > max_w:
                        lines.append(cur)
                        cur = word
                    else:
                        cur = cand
                lines.append(cur)
            widest = max(self.width(ln, px) for ln in lines)
            if (widest <= max_w and len(lines) <= max_lines) or px <= min_px:
                return lines, px
            px = max(min_px, int(px * 0.9))
