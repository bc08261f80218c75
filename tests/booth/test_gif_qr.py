"""The GIF writer, read back by an independent decoder (Pillow), and the QR codes, read back by
OpenCV's QR decoder."""
from __future__ import annotations

import io
import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

from edge.booth.gif import encode_gif  # noqa: E402
from edge.booth.qr import qr_surface, wifi_payload  # noqa: E402
from edge.render.emoticon import build_emoticon  # noqa: E402
from edge.render.params import expression_params, with_motion  # noqa: E402
from edge.render.style import Style  # noqa: E402
from edge.state import EmoticonState, Motion  # noqa: E402


def rgb(surf: pygame.Surface) -> np.ndarray:
    return np.ascontiguousarray(pygame.surfarray.array3d(surf).transpose(1, 0, 2))


def gif_frames(data: bytes) -> tuple[list[np.ndarray], dict]:
    image = pytest.importorskip("PIL.Image").open(io.BytesIO(data))
    frames = []
    for k in range(image.n_frames):
        image.seek(k)
        frames.append(np.asarray(image.convert("RGB")).astype(int))
    return frames, image.info


def emoticon_frames(n: int = 12, size: int = 160) -> list[np.ndarray]:
    """An emoticon opening its mouth, on a gradient: what a sticker is made of."""
    out = []
    for k in range(n):
        back = pygame.Surface((size, size))
        for y in range(size):
            back.fill((30 + y // 2, 28, 90 - y // 4), (0, y, size, 1))
        face = build_emoticon(with_motion(expression_params("happy"), Motion(mouth_open=k / n)),
                              Style.from_state(EmoticonState(tone="medium")), size - 20)
        back.blit(face, (10, 10))
        out.append(rgb(back))
    return out


def test_an_animated_emoticon_reads_back_as_looping_frames_close_to_the_drawing():
    frames = emoticon_frames()
    decoded, info = gif_frames(encode_gif(frames, 8))
    assert len(decoded) == len(frames) and info.get("loop") == 0 and info.get("duration") == 80
    assert decoded[0].shape == frames[0].shape
    errors = [np.abs(d - f).mean() for d, f in zip(decoded, frames)]
    assert max(errors) < 4.0, errors  # 255 colours for a shaded face on a gradient
    assert np.abs(decoded[0] - decoded[-1]).mean() > 1.0  # the mouth opened: the frames differ


def test_noise_with_few_colours_round_trips_exactly():
    """Every pixel different from its neighbours fills LZW's 4096-code table several times over."""
    rng = np.random.default_rng(7)
    palette = rng.integers(0, 32, (200, 3)) * 8 + 4  # colours a 32-level cube keeps exactly
    frames = [palette[rng.integers(0, 200, (90, 120))].astype(np.uint8) for _ in range(3)]
    decoded, _ = gif_frames(encode_gif(frames, 10))
    for d, f in zip(decoded, frames):
        assert np.array_equal(d, f)


def test_unchanged_frames_keep_their_time():
    frames = emoticon_frames(2) + [emoticon_frames(2)[1]] * 3
    decoded, _ = gif_frames(encode_gif(frames, 8))
    assert len(decoded) == 5 and np.array_equal(decoded[2], decoded[4])


def test_a_qr_code_on_screen_reads_back_as_its_text():
    url = "http://10.42.0.1:8080/s/AbCdEfGhIjKlMnOpQrStUv"
    code = qr_surface(url, 200)
    assert code.get_width() <= 200 and code.get_width() == code.get_height()
    screen = pygame.Surface((640, 360))
    screen.fill((40, 30, 80))
    screen.blit(code, (400, 80))
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(np.ascontiguousarray(rgb(screen)[:, :, ::-1]))
    assert text == url


def test_the_wifi_code_escapes_what_the_format_reserves():
    assert wifi_payload('Booth;1', 'pa:ss"w,rd\\') == 'WIFI:T:WPA;S:Booth\\;1;P:pa\\:ss\\"w\\,rd\\\\;;'
    assert wifi_payload("Open booth", "") == "WIFI:T:nopass;S:Open booth;;"
    code = qr_surface(wifi_payload("EmoticonMirror", "smile-please"), 240)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(np.ascontiguousarray(rgb(code)[:, :, ::-1]))
    assert text == "WIFI:T:WPA;S:EmoticonMirror;P:smile-please;;"


def test_a_sticker_over_the_limit_plays_at_half_the_frame_rate(monkeypatch):
    from edge.booth import sticker

    frames = emoticon_frames(8)
    whole = len(encode_gif(frames, 8))
    monkeypatch.setattr(sticker, "MAX_BYTES", whole - 1)
    decoded, info = gif_frames(sticker.fit(frames))
    assert len(decoded) == 4 and info.get("duration") == 160  # every other frame, each shown twice as long
    monkeypatch.setattr(sticker, "MAX_BYTES", 100)
    with pytest.raises(ValueError, match="even at 2 frames"):
        sticker.fit(frames)
