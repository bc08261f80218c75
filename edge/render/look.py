"""The exhibitor's look: background colours or picture, a logo, the attract title and hint, the font.

Checked once at start-up (a missing logo or a bad colour stops the mirror with a message naming the
key, like any config error) and turned into one background surface per screen size, logo included,
so the frame loop still only blits.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pygame

from edge.config import ConfigError, LookConfig
from edge.render.fonts import resolve

RGB = tuple[int, int, int]

DEFAULT_TITLE = "Step closer \u2014 become an emoticon"
DEFAULT_HINT = "Smile, frown, look surprised: it mirrors you live"
LOGO_FRACTION = 0.14  # logo height on the screen, fraction of the shorter side
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def parse_colour(value: str, name: str) -> RGB:
    m = _HEX.match(value.strip())
    if not m:
        raise ConfigError(f"{name}: {value!r} is not a colour; write #rrggbb, e.g. #1a1c38")
    h = m.group(1)
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def load_image(path: str, name: str) -> pygame.Surface:
    """An image file as a surface (alpha kept); ConfigError naming the key when it cannot be read.
    A picture too large to decode whole (20000x20000 took 2.45 GB, a pygame.error under the unit's
    700 MB) is read as a source's would be: a JPEG at a fraction of its size, anything else refused."""
    from edge.sources import SourceError
    from edge.sources.files import MAX_DECODE_PIXELS, header_size, read_image

    try:
        with open(path, "rb") as fh:
            size = header_size(fh.read(65536))
        if size is not None and size[0] * size[1] > MAX_DECODE_PIXELS:
            rgb = np.ascontiguousarray(read_image(Path(path))[:, :, ::-1])
            image = pygame.image.frombuffer(rgb.tobytes(), (rgb.shape[1], rgb.shape[0]), "RGB")
        else:
            image = pygame.image.load(path)
    except SourceError as e:
        raise ConfigError(f"{name}: {e}") from None
    except (OSError, pygame.error) as e:
        raise ConfigError(f"{name}: {path}: cannot read the image ({e})") from None
    out = pygame.Surface(image.get_size(), pygame.SRCALPHA, 32)  # 32-bit: smoothscale needs it
    out.blit(image, (0, 0))
    return out


@dataclass
class Look:
    top: RGB = (26, 28, 56)
    bottom: RGB = (48, 34, 84)
    title: str = DEFAULT_TITLE
    hint: str = DEFAULT_HINT
    font_path: str | None = None
    image: pygame.Surface | None = None
    logo: pygame.Surface | None = None

    @classmethod
    def from_config(cls, cfg: LookConfig) -> "Look":
        font_path = resolve(cfg.font)
        if cfg.font and font_path is None:
            raise ConfigError(f"look.font: {cfg.font!r} is neither a font file nor an installed family "
                              "(fc-list : family lists them; e.g. 'Noto Sans CJK KR' from apt fonts-noto-cjk)")
        if font_path is not None:
            try:  # a picture or a text file named as the font passed here and failed at the first text
                if not pygame.font.get_init():
                    pygame.font.init()
                pygame.font.Font(font_path, 12).render("Aa", True, (255, 255, 255))
            except (OSError, pygame.error):
                raise ConfigError(f"look.font: {font_path}: not a font file (a .ttf, .otf or .ttc, or a family "
                                  "name that fc-list knows)") from None
        return cls(parse_colour(cfg.background_top, "look.background_top"),
                   parse_colour(cfg.background_bottom, "look.background_bottom"),
                   cfg.title or DEFAULT_TITLE, cfg.hint or DEFAULT_HINT, font_path,
                   load_image(cfg.background_image, "look.background_image") if cfg.background_image else None,
                   load_image(cfg.logo, "look.logo") if cfg.logo else None)

    def background(self, size: tuple[int, int], logo: bool = True) -> pygame.Surface:
        """The screen's background at `size`: picture or gradient, then the logo in the top-left corner."""
        W, H = size
        background = pygame.Surface((W, H))  # the screen's own format: no conversion per frame
        background.blit(self._cover(self.image, size) if self.image is not None else self._gradient(size), (0, 0))
        mark = self.logo_at(int(min(W, H) * LOGO_FRACTION), W // 3) if logo else None
        if mark is not None:
            m = int(min(W, H) * 0.03)
            background.blit(mark, (m, m))
        return background

    def logo_at(self, max_h: int, max_w: int) -> pygame.Surface | None:
        """The logo scaled to fit max_w x max_h, aspect kept; None without a logo."""
        if self.logo is None or max_h < 2 or max_w < 2:
            return None
        w, h = self.logo.get_size()
        k = min(max_h / h, max_w / w)
        return pygame.transform.smoothscale(self.logo, (max(1, int(w * k)), max(1, int(h * k))))

    @staticmethod
    def _cover(image: pygame.Surface, size: tuple[int, int]) -> pygame.Surface:
        """Scaled to cover the screen and centre-cropped: a picture is never stretched."""
        W, H = size
        w, h = image.get_size()
        k = max(W / w, H / h)
        scaled = pygame.transform.smoothscale(image, (max(W, int(round(w * k))), max(H, int(round(h * k)))))
        out = pygame.Surface((W, H))
        out.blit(scaled, ((W - scaled.get_width()) // 2, (H - scaled.get_height()) // 2))
        return out

    def _gradient(self, size: tuple[int, int]) -> pygame.Surface:
        """A vertical gradient with a soft vignette."""
        W, H = size
        t = np.linspace(0.0, 1.0, H, dtype=np.float32)[:, None]
        top, bot = np.array(self.top, np.float32), np.array(self.bottom, np.float32)
        col = top[None, None, :] * (1 - t[..., None]) + bot[None, None, :] * t[..., None]  # H x 1 x 3
        xs = np.linspace(-1.0, 1.0, W, dtype=np.float32)[None, :]
        ys = np.linspace(-1.0, 1.0, H, dtype=np.float32)[:, None]
        vig = 1.0 - 0.35 * np.clip(xs ** 2 * 0.6 + ys ** 2 * 0.6, 0, 1) ** 1.5  # H x W
        img = np.clip(col * vig[..., None], 0, 255).astype(np.uint8)
        return pygame.image.frombuffer(np.ascontiguousarray(img).tobytes(), (W, H), "RGB")
