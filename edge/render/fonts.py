"""Fonts for text in any language: the configured font, a Noto font for scripts it lacks, and
right-to-left shaping for Arabic and Hebrew.

pygame's bundled font has Latin only, so a Korean title would be drawn as boxes; the exhibitor names
a font (file or family) or we find an installed Noto font for the script (setup.sh installs
fonts-noto-cjk and fonts-noto-core from apt). Arabic needs more than glyphs: letters join
(HarfBuzz shaping) and run right to left. pygame 2.6 exposes the script (Font.set_script) but not
the direction, so both are set through SDL_ttf's own global defaults (TTF_SetScript,
TTF_SetDirection, in SDL_ttf >= 2.0.18), which it reads each time it shapes a line. Without them
(an SDL_ttf built without HarfBuzz) Arabic shows separate letters left to right, and we log that once.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import pygame

log = logging.getLogger(__name__)

# scripts that need a font of their own, with the installed families tried for each (Debian/Pi OS apt)
FALLBACK_FAMILIES: dict[str, tuple[str, ...]] = {
    "Hang": ("Noto Sans CJK KR", "NanumGothic", "Noto Serif CJK KR"),
    "Jpan": ("Noto Sans CJK JP", "Noto Serif CJK JP"),
    "Hani": ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC"),
    "Arab": ("Noto Sans Arabic", "Noto Naskh Arabic", "Noto Kufi Arabic"),
    "Hebr": ("Noto Sans Hebrew", "DejaVu Sans"),
    "Thai": ("Noto Sans Thai", "Noto Sans Thai UI"),
    "Deva": ("Noto Sans Devanagari",),
    "Cyrl": ("DejaVu Sans", "Noto Sans"),
    "Grek": ("DejaVu Sans", "Noto Sans"),
}
RTL = {"Arab", "Hebr"}
HB_DIRECTION_LTR, HB_DIRECTION_RTL = 4, 5
# Unicode name prefixes -> ISO 15924 script; enough for titles and hints, not a full script database
NAME_SCRIPTS = (("HANGUL", "Hang"), ("HIRAGANA", "Jpan"), ("KATAKANA", "Jpan"), ("CJK", "Hani"),
                ("ARABIC", "Arab"), ("HEBREW", "Hebr"), ("THAI", "Thai"), ("DEVANAGARI", "Deva"),
                ("CYRILLIC", "Cyrl"), ("GREEK", "Grek"))


def script_of(text: str) -> str | None:
    """The first non-Latin script in `text` (Japanese wins over Han when kana appear); None for Latin."""
    found: list[str] = []
    for ch in text:
        if ord(ch) < 0x250 or not ch.strip():
            continue
        name = unicodedata.name(ch, "")
        script = next((s for prefix, s in NAME_SCRIPTS if name.startswith(prefix)), None)
        if script and script not in found:
            found.append(script)
    if "Jpan" in found:
        return "Jpan"
    return found[0] if found else None


CJK = {"Hang", "Jpan", "Hani"}  # one run: Korean and Japanese text mix in Han characters


def script_runs(text: str) -> list[tuple[str, str | None]]:
    """`text` cut where the script changes, as (run, script); None = Latin, digits, spaces and
    punctuation. Neutral characters between two runs of one script join them (an Arabic phrase keeps
    its spaces, so it is shaped as one right-to-left run); at a change of script they stay on their own."""
    runs: list[list] = []
    for ch in text:
        sc = script_of(ch)
        key = "CJK" if sc in CJK else sc
        if runs and runs[-1][2] == key:
            runs[-1][0] += ch
        else:
            runs.append([ch, sc, key])
    merged: list[list] = []
    i = 0
    while i < len(runs):
        run = runs[i]
        if (run[2] is None and merged and i + 1 < len(runs) and merged[-1][2] is not None
                and runs[i + 1][2] == merged[-1][2]):
            merged[-1][0] += run[0] + runs[i + 1][0]
            i += 2
            continue
        merged.append(list(run))
        i += 1
    return [(r[0], script_of(r[0]) if r[2] == "CJK" else r[1]) for r in merged]


NUMBER = re.compile(r"(\d+(?:[.,:/\u066b\u066c]\d+)*)")  # 2026, ٢٠٢٦, 12:30, 3.5 (\d is any decimal digit)


def numbers_apart(run: str) -> list[str]:
    """A right-to-left run cut around its numbers, which read left to right even in Arabic and Hebrew
    (the bidi algorithm's rule for digits): shaped whole, the year ٢٠٢٦ would come out as ٦٢٠٢."""
    return [piece for piece in NUMBER.split(run) if piece]


def resolve(spec: str) -> str | None:
    """A font file path, or an installed family name ('Noto Sans CJK KR'), to a file; None if neither."""
    if not spec:
        return None
    p = Path(spec).expanduser()
    if p.is_file():
        return str(p)
    if "/" in spec:
        return None
    try:
        return pygame.font.match_font(spec.replace(" ", "").lower())
    except Exception:  # match_font shells out to fc-list; absent on minimal images
        log.debug("font lookup failed", exc_info=True)
        return None


@lru_cache(maxsize=16)
def fallback_for(script: str) -> str | None:
    """An installed font for `script`, or None."""
    for family in FALLBACK_FAMILIES.get(script, ()):
        path = resolve(family)
        if path:
            return path
    return None


@lru_cache(maxsize=1)
def _ttf() -> ctypes.CDLL | None:
    """The SDL_ttf library pygame itself loaded (the PyPI wheel's bundled copy or the system's)."""
    if not pygame.font.get_init():
        pygame.font.init()
    candidates = []
    try:
        with open("/proc/self/maps") as fh:
            candidates = sorted({line.split()[-1] for line in fh if "SDL2_ttf" in line and "/" in line})
    except OSError:
        pass
    candidates.append(ctypes.util.find_library("SDL2_ttf") or "libSDL2_ttf-2.0.so.0")
    for name in candidates:
        try:
            lib = ctypes.CDLL(name)
            lib.TTF_SetScript.argtypes = lib.TTF_SetDirection.argtypes = [ctypes.c_int]
            return lib
        except (OSError, AttributeError):
            continue
    return None


def _tag(script: str) -> int:
    a, b, c, d = (ord(ch) for ch in script)
    return (a << 24) | (b << 16) | (c << 8) | d


_warned: set[str] = set()


class ShapedFont:
    """A font whose text is shaped for one script and, for Arabic and Hebrew, laid out right to left.

    SDL_ttf reads its global script and direction when it shapes (each render or size call), not when
    the font is opened, so they are set around every call and put back after; all drawing happens
    on the frame-loop thread."""

    def __init__(self, font: pygame.font.Font, lib: ctypes.CDLL, script: str):
        self._font, self._lib = font, lib
        self._tag = _tag(script)
        self._dir = HB_DIRECTION_RTL if script in RTL else HB_DIRECTION_LTR

    def _call(self, fn, *args, **kwargs):
        self._lib.TTF_SetScript(self._tag)
        self._lib.TTF_SetDirection(self._dir)
        try:
            return fn(*args, **kwargs)
        finally:
            self._lib.TTF_SetScript(_tag("Zzzz"))  # "unknown": other fonts guess per text again
            self._lib.TTF_SetDirection(HB_DIRECTION_LTR)

    def render(self, *args, **kwargs) -> pygame.Surface:
        return self._call(self._font.render, *args, **kwargs)

    def size(self, text: str) -> tuple[int, int]:
        return self._call(self._font.size, text)

    def metrics(self, text: str) -> list:
        return self._call(self._font.metrics, text)

    @property
    def unshaped(self) -> pygame.font.Font:
        """The same font laid out left to right: for the numbers inside right-to-left text."""
        return self._font

    def __getattr__(self, name: str):
        return getattr(self._font, name)


def open_font(path: str | None, px: int, script: str | None = None) -> pygame.font.Font:
    """`path` (None = pygame's bundled font) at `px`, shaped for `script` (right to left for RTL)."""
    if not pygame.font.get_init():
        pygame.font.init()
    try:
        font = pygame.font.Font(path, px)
    except (OSError, pygame.error):  # a broken font file: the bundled one always works
        log.warning("font %s cannot be opened; using the built-in font", path)
        font = pygame.font.Font(None, px)
    if not script:
        return font
    if hasattr(font, "set_script"):
        try:
            font.set_script(script)
        except Exception:  # SDL_ttf without HarfBuzz
            log.debug("set_script(%s) failed", script, exc_info=True)
    lib = _ttf()
    if lib is not None and lib.TTF_SetScript(_tag(script)) == 0:
        lib.TTF_SetScript(_tag("Zzzz"))
        return ShapedFont(font, lib, script)  # type: ignore[return-value]
    if script in RTL and script not in _warned:
        _warned.add(script)
        log.warning("this SDL_ttf cannot shape %s text right to left; it shows as separate letters", script)
    return font


NOTDEF = "\U0010fffd"  # a private-use code point no font draws: whatever it shows is the "missing" box
_tobytes = getattr(pygame.image, "tobytes", None) or pygame.image.tostring  # pygame < 2.1.3: tostring
_notdef: dict[pygame.font.Font, tuple[tuple[int, int], bytes]] = {}
_missing: dict[tuple[pygame.font.Font, str], bool] = {}


def missing(font: pygame.font.Font, ch: str) -> bool:
    """True when `font` has no glyph for `ch`. SDL_ttf >= 2.20 reports metrics for a missing glyph
    (those of the box it draws), so the glyph is compared with the font's own box."""
    if not ch.strip():
        return False
    known = _missing.get((font, ch))
    if known is None:
        if len(_missing) > 4096:
            _missing.clear()
        known = _missing[(font, ch)] = _is_missing(font, ch)
    return known


def _is_missing(font: pygame.font.Font, ch: str) -> bool:
    if font.metrics(ch)[0] is None:
        return True
    box = _notdef.get(font)
    if box is None:
        if len(_notdef) > 64:
            _notdef.clear()
        s = font.render(NOTDEF, False, (255, 255, 255), (0, 0, 0))
        box = _notdef[font] = (s.get_size(), _tobytes(s, "RGB"))
    if font.size(ch) != box[0]:
        return False
    return _tobytes(font.render(ch, False, (255, 255, 255), (0, 0, 0)), "RGB") == box[1]


def has_glyphs(font: pygame.font.Font, text: str) -> bool:
    return not any(missing(font, ch) for ch in set(text))
