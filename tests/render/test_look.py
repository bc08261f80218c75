"""The exhibitor's look: colours, picture, logo, and titles in Korean, Japanese and Arabic as glyphs."""
from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

from edge.config import ConfigError, LookConfig  # noqa: E402
from edge.render import Renderer  # noqa: E402
from edge.render.fonts import fallback_for, has_glyphs, open_font, script_of  # noqa: E402
from edge.render.look import Look  # noqa: E402
from edge.render.text import TextCache  # noqa: E402
from edge.state import Scene  # noqa: E402

KOREAN = "\uc5b4\uc11c \uc624\uc138\uc694 \u2014 \uc774\ubaa8\ud2f0\ucf58\uc774 \ub418\uc5b4 \ubcf4\uc138\uc694"  # welcome...
JAPANESE = "\u3088\u3046\u3053\u305d\u3001\u7b11\u9854\u3092\u898b\u305b\u3066"
MARHABA = "\u0645\u0631\u062d\u0628\u0627"  # "marhaba", logical order: meem reh hah beh alef


def need(script: str) -> str:
    path = fallback_for(script)
    if path is None:
        pytest.skip(f"no font for {script} installed (apt install fonts-noto-cjk fonts-noto-core; setup.sh does)")
    return path


def rgb(surf: pygame.Surface) -> np.ndarray:
    return pygame.surfarray.array3d(surf).transpose(1, 0, 2).astype(np.int32)


def attract(look: Look, size=(960, 540)) -> pygame.Surface:
    r = Renderer(size, look=look)
    for i in range(12):  # the attract screen fades in over 0.35 s
        surf = r.render(Scene(), 1.0 + i * 0.1)
    return surf.copy()


def glyph_bitmaps(font: pygame.font.Font, chars: str) -> list[bytes]:
    return [pygame.image.tobytes(font.render(ch, True, (255, 255, 255), (0, 0, 0)), "RGB") for ch in chars]


def test_script_detection():
    assert script_of("Hello \u2014 world") is None
    assert script_of(KOREAN) == "Hang" and script_of(JAPANESE) == "Jpan" and script_of(MARHABA) == "Arab"


def test_korean_attract_title_renders_glyphs_not_boxes(tmp_path):
    need("Hang")
    look = Look(title=KOREAN, hint="\ud45c\uc815\uc744 \uc9c0\uc5b4 \ubcf4\uc138\uc694")
    shot = attract(look)
    pygame.image.save(shot, str(os.environ.get("LOOK_SHOT") or tmp_path / "korean_attract.png"))
    r = Renderer((960, 540), look=look)
    font = r._text.font_for(KOREAN, 40)
    syllables = [ch for ch in KOREAN if "\uac00" <= ch <= "\ud7a3"]
    assert has_glyphs(font, KOREAN)
    # every distinct syllable draws differently: missing glyphs would all be the same box
    assert len(set(glyph_bitmaps(font, "".join(dict.fromkeys(syllables))))) == len(set(syllables))
    builtin = open_font(None, 40)
    assert not has_glyphs(builtin, KOREAN)  # the check can fail: the built-in font has no Hangul
    # the title line is on the screenshot: the text band below the face has bright text pixels
    # across about the width the Korean font gives the title
    text_w = font.size(KOREAN)[0] * (r._hero_layout(1.0)[3] / 40)
    px = rgb(shot)
    band = px[int(540 * 0.68):int(540 * 0.78), :, :].mean(axis=2) > 150  # the background is ~40
    cols = np.nonzero(band.any(axis=0))[0]
    assert cols.size and (cols[-1] - cols[0]) > 0.6 * min(text_w, 960 * 0.9)


def test_japanese_glyphs_and_configured_family():
    need("Jpan")
    look = Look.from_config(LookConfig(font="Noto Sans CJK JP", title=JAPANESE))
    assert look.font_path and look.font_path.endswith((".ttc", ".otf", ".ttf"))
    text = TextCache(font_path=look.font_path)
    assert has_glyphs(text.font_for(JAPANESE, 32), JAPANESE)
    assert text.font_for(JAPANESE, 32) is text.font(32)  # the configured font draws it itself


def pieces(surf: pygame.Surface) -> int:
    """Connected pieces of ink (8-connected)."""
    ink = (pygame.surfarray.array_alpha(surf).T > 80).astype(np.uint8)
    return cv2.connectedComponents(ink, connectivity=8)[0] - 1


def alef_at(surf: pygame.Surface) -> float:
    """Where the word's one tall letter (alef, the last letter of marhaba) is: 0 left .. 1 right."""
    ink = pygame.surfarray.array_alpha(surf).T > 80
    rows, cols = np.nonzero(ink.any(1))[0], np.nonzero(ink.any(0))[0]
    top = np.nonzero(ink[rows[0]: rows[0] + (rows[-1] - rows[0]) // 4].any(0))[0]
    return float((top.mean() - cols[0]) / (cols[-1] - cols[0]))


def test_arabic_is_joined_and_runs_right_to_left():
    need("Arab")
    text = TextCache()
    shaped = text.line(MARHABA, 64, (255, 255, 255))
    # joined: meem-reh, hah-beh-alef and beh's dot (reh does not join to the left)
    assert pieces(shaped) == 3
    # right to left: the word ends on the left, with the alef
    assert alef_at(shaped) < 0.2
    plain = pygame.font.Font(fallback_for("Arab"), 64)
    assert pieces(plain.render(MARHABA, True, (255, 255, 255))) == 6  # unshaped: five letters and a dot
    if hasattr(plain, "set_script"):
        plain.set_script("Arab")  # shaped, but left to right: what pygame alone gives
        assert alef_at(plain.render(MARHABA, True, (255, 255, 255))) > 0.8
    assert alef_at(text.line(MARHABA, 64, (255, 255, 255))) < 0.2  # and the cached line stays right


OPEN_DAY = "\u064a\u0648\u0645 \u0645\u0641\u062a\u0648\u062d \u0662\u0660\u0662\u0666"  # "open day 2026", Arabic-Indic digits


def best_match(line: pygame.Surface, piece: pygame.Surface) -> float:
    """How well `piece` matches somewhere in `line` (1 = exactly), on their ink."""
    ink = pygame.surfarray.array_alpha(line).T.astype(np.float32)
    tpl = pygame.surfarray.array_alpha(piece).T.astype(np.float32)
    return float(cv2.matchTemplate(ink, tpl, cv2.TM_CCOEFF_NORMED).max())


@pytest.mark.parametrize("year", ["\u0662\u0660\u0662\u0666", "2026"])
def test_numbers_in_right_to_left_text_keep_their_order(year):
    need("Arab")
    title = OPEN_DAY.replace("\u0662\u0660\u0662\u0666", year) if year.isascii() else OPEN_DAY
    text = TextCache()
    line = text.line(title, 64, (255, 255, 255))
    # the number as its font draws it left to right (Latin digits are the configured font's)
    plain = text.font(64) if year.isascii() else pygame.font.Font(fallback_for("Arab"), 64)
    right, reversed_ = (plain.render(y, True, (255, 255, 255)) for y in (year, year[::-1]))
    assert best_match(line, right) > 0.97 > best_match(line, reversed_)
    # the year stays where an Arabic reader ends the line: on the left of the words
    ink = np.nonzero((pygame.surfarray.array_alpha(line).T > 80).any(0))[0]
    year_x = cv2.matchTemplate(pygame.surfarray.array_alpha(line).T.astype(np.float32),
                               pygame.surfarray.array_alpha(right).T.astype(np.float32), cv2.TM_CCOEFF_NORMED)
    assert cv2.minMaxLoc(year_x)[3][0] < ink[0] + 0.35 * (ink[-1] - ink[0])


def test_an_arabic_phrase_with_a_number_in_a_left_to_right_line_keeps_the_number_on_its_left():
    """A line that starts in a left-to-right script (here Korean) with an Arabic phrase after it."""
    need("Arab"), need("Hang")
    text = TextCache()
    lead = "\ud45c\uc815 "  # Korean: the line runs left to right
    line = text.line(lead + OPEN_DAY, 64, (255, 255, 255))
    year = pygame.font.Font(fallback_for("Arab"), 64).render("\u0662\u0660\u0662\u0666", True, (255, 255, 255))
    words = text.line(OPEN_DAY[:-5], 64, (255, 255, 255))  # the Arabic words alone, shaped right to left
    ink = pygame.surfarray.array_alpha(line).T.astype(np.float32)
    where = {name: cv2.minMaxLoc(cv2.matchTemplate(ink, pygame.surfarray.array_alpha(s).T.astype(np.float32),
                                                   cv2.TM_CCOEFF_NORMED))
             for name, s in (("year", year), ("words", words))}
    assert where["year"][1] > 0.97 and where["words"][1] > 0.97
    # Korean, then the phrase read from the right: its year (last in the text) on the left of its words
    assert text.width(lead.strip(), 64) < where["year"][3][0] < where["words"][3][0]


def test_background_colours_image_and_logo(tmp_path):
    look = Look.from_config(LookConfig(background_top="#ff0000", background_bottom="#ff0000"))
    bg = rgb(look.background((200, 100)))
    assert np.abs(bg[50, 100] - (255, 0, 0)).max() <= 2  # the centre has (almost) no vignette
    pic = pygame.Surface((40, 10))
    pic.fill((0, 200, 0))
    pygame.image.save(pic, str(tmp_path / "bg.png"))
    logo = pygame.Surface((30, 30), pygame.SRCALPHA)
    logo.fill((0, 0, 255, 255))
    pygame.image.save(logo, str(tmp_path / "logo.png"))
    look = Look.from_config(LookConfig(background_image=str(tmp_path / "bg.png"), logo=str(tmp_path / "logo.png")))
    bg = rgb(look.background((400, 300)))
    assert tuple(bg[150, 200]) == (0, 200, 0)  # covered, not letterboxed
    assert tuple(bg[20, 20]) == (0, 0, 255)  # the logo in the top-left corner
    shot = rgb(attract(look, (400, 300)))
    assert tuple(shot[20, 20]) == (0, 0, 255)


@pytest.mark.parametrize("field,value,words", [
    ("background_top", "red", "look.background_top"),
    ("logo", "/nonexistent/logo.png", "look.logo"),
    ("font", "No Such Font Family 123", "look.font"),
])
def test_bad_look_config_names_the_key(field, value, words):
    with pytest.raises(ConfigError, match=words):
        Look.from_config(LookConfig(**{field: value}))


def test_a_line_mixing_scripts_gets_a_font_per_script():
    need("Hang"), need("Arab"), need("Jpan")
    text = TextCache()
    mixed = "\ud45c\uc815\uc744 \uc9c0\uc5b4 \ubcf4\uc138\uc694 \u00b7 " + MARHABA + " \u00b7 " + JAPANESE
    runs = text.runs(mixed, 30)
    assert "".join(run for run, _ in runs) == mixed  # nothing replaced by "?"
    assert all(has_glyphs(font, run) for run, font in runs)
    assert len({id(font) for run, font in runs if script_of(run)}) == 3
    line = text.line(mixed, 30, (255, 255, 255))
    assert line.get_width() == text.width(mixed, 30)


@pytest.mark.parametrize("content", [b"not a font\n", None])
def test_a_font_key_naming_a_file_that_is_not_a_font_stops_the_start_naming_the_key(tmp_path, content):
    """A text file or a picture as look.font passed the start, and the mirror died at the first text
    with a pygame.error; now it is a config error (exit 2) naming look.font, which doctor reports too."""
    from conftest import DEMO

    from edge.config import Config
    from fakes import assert_one_line_error, cli

    path = tmp_path / "font.ttf"
    if content is None:
        path = DEMO / "astronaut.png"
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match="look.font: .*not a font file"):
        Look.from_config(LookConfig(font=str(path)))
    config = tmp_path / "c.toml"
    config.write_text(f'[look]\nfont = "{path}"\n')
    assert_one_line_error(cli("--config", str(config), "run", "--frames", "1", "--display", "headless"), 2, "look.font")
    doctor = cli("--config", str(config), "doctor")
    assert doctor.returncode != 0 and "FAIL look: look.font" in doctor.stdout + doctor.stderr
    assert Config().look.font == "" and Look.from_config(Config().look).font_path is None  # none set: the built-in


def test_a_huge_background_picture_is_read_reduced_or_refused_in_one_line(tmp_path):
    """A 20000x20000 background_image blew the memory (a pygame.error traceback under the unit's
    limit): a JPEG is decoded at a fraction of its size, anything else that large is a config error."""
    import struct
    import zlib

    big = np.full((8200, 8200, 3), 90, np.uint8)  # 67 Mpx, just over what is decoded whole
    assert cv2.imwrite(str(tmp_path / "big.jpg"), big)
    del big
    look = Look.from_config(LookConfig(background_image=str(tmp_path / "big.jpg")))
    assert look.image.get_size() == (4100, 4100)
    assert np.abs(rgb(look.background((160, 90)))[45, 80] - 90).max() <= 5  # the picture, not a gradient

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
                     + chunk(b"IEND", b""))
    with pytest.raises(ConfigError, match=r"look.background_image: .*huge.png: too large to read \(20000x20000"):
        Look.from_config(LookConfig(background_image=str(huge)))
