"""Emoticon art: every variant draws and the art keeps its promises (the live screen: test_renderer.py).

Pixel checks read the real drawn surfaces, so they hold for any future redraw of the art as long as
the promises of issue #5 hold (mask over the mouth, dark sunglasses, ordered tones, distinct
expressions, round faces, mirror order).
"""
from __future__ import annotations

import itertools
import os

os.environ["SDL_VIDEODRIVER"] = "dummy"

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

from edge.render import draw_emoticon  # noqa: E402
from edge.render import palette as pal  # noqa: E402
from edge.render.emoticon import CACHE_BYTES, Style, VariantCache, build_emoticon  # noqa: E402
from edge.render.features import EYE_X, EYE_Y  # noqa: E402
from edge.render.gallery import variants  # noqa: E402
from edge.render.params import (  # noqa: E402
    EXPRESSION_PARAMS,
    FaceParams,
    blend,
    expression_params,
)
from edge.state import (  # noqa: E402
    EXPRESSIONS,
    SKIN_TONES,
    TONES,
    EmoticonState,
)
from fakes import SCREENS, lightness, region, rgb, rgba  # noqa: F401,E402

SIZES = (32, 96, 256)


# ------------------------------------------------------------------------------------------ variants


def test_variant_count_is_480():
    vs = variants()
    assert len(vs) == 8 * 6 * 5 * 2 == len(set(vs))


@pytest.mark.parametrize("size", SIZES)
def test_every_variant_renders(size):
    for state in variants():
        surf = draw_emoticon(state, size)
        assert surf.get_size() == (size, size)
        assert surf.get_flags() & pygame.SRCALPHA
        a = pygame.surfarray.array_alpha(surf)
        assert a[0, 0] == 0 and a[-1, -1] == 0, state  # corners outside the disc stay clear
        assert a[size // 2, size // 2] == 255, state
        assert a[size // 2, 2] > 0 and a[2, size // 2] > 0  # the disc reaches (nearly) the edge: no margin waste


def test_draw_emoticon_is_cached_in_the_cache_it_is_given():
    cache = VariantCache(CACHE_BYTES)
    s = EmoticonState("happy", "medium", "glasses", "rectangular", True)
    assert draw_emoticon(s, 64, cache) is draw_emoticon(s, 64, cache)
    assert draw_emoticon(s, 64) is not draw_emoticon(s, 64)  # no cache: a one-off, drawn afresh
    # glasses_shape is irrelevant without glasses: one cache entry, not two
    assert draw_emoticon(EmoticonState("sad", eyewear="none", glasses_shape="rectangular"), 64, cache) is \
        draw_emoticon(EmoticonState("sad", eyewear="none", glasses_shape="round"), 64, cache)
    assert len(cache) == 2


def test_unknown_values_fall_back():
    surf = draw_emoticon(EmoticonState("bored", "blue"), 48)
    ref = draw_emoticon(EmoticonState("neutral", "yellow"), 48)
    assert np.array_equal(rgba(surf), rgba(ref))


# ------------------------------------------------------------------------------------------ art promises


@pytest.mark.parametrize("tone", TONES)
def test_mask_covers_the_mouth(tone):
    size = 128
    mask_colours = np.array([pal.MASK_FILL, pal.MASK_PLEAT, pal.MASK_EDGE], np.float32)
    mouth_colours = np.array([pal.MOUTH, pal.TEETH, pal.TONGUE, pal.palette(tone).feature], np.float32)
    box = region(size, 0.0, 0.5, 0.3, 0.14)  # where every mouth is drawn
    for expr in EXPRESSIONS:
        masked = rgb(draw_emoticon(EmoticonState(expr, tone, mask=True), size))[box].reshape(-1, 3)
        d_mask = np.min(np.linalg.norm(masked[:, None] - mask_colours[None], axis=2), axis=1)
        assert np.mean(d_mask < 45) > 0.97, (expr, tone)  # all mask-coloured (shading allowed)
        bare = rgb(draw_emoticon(EmoticonState(expr, tone), size))[box].reshape(-1, 3)
        d_mouth = np.min(np.linalg.norm(bare[:, None] - mouth_colours[None], axis=2), axis=1)
        assert np.mean(d_mouth < 40) > 0.04, (expr, tone)  # ... and the box really is where the mouth is


@pytest.mark.parametrize("tone", TONES)
def test_sunglasses_are_dark_over_the_eyes(tone):
    size = 128
    for expr in EXPRESSIONS:
        for sgn in (-1, 1):
            box = region(size, sgn * EYE_X, EYE_Y, 0.12, 0.15)  # the widest (surprised) eye
            dark = lightness(rgb(draw_emoticon(EmoticonState(expr, tone, "sunglasses"), size))[box])
            assert dark.mean() < 25 and np.percentile(dark, 90) < 40, (expr, tone)
            if tone in ("yellow", "light", "medium_light"):  # on pale skin the bare eye area is lighter
                plain = lightness(rgb(draw_emoticon(EmoticonState(expr, tone), size))[box])
                assert plain.mean() > dark.mean() + 15, (expr, tone)


def _face_fill_lightness(tone: str) -> float:
    surf = draw_emoticon(EmoticonState("neutral", tone), 128)
    px = rgba(surf)
    opaque = px[..., 3] == 255
    return float(np.median(lightness(px[..., :3][opaque])))


def test_skin_tones_are_ordered_in_lightness():
    ls = [_face_fill_lightness(t) for t in SKIN_TONES]  # light .. dark
    assert all(a > b + 5 for a, b in zip(ls, ls[1:])), ls
    assert ls[0] > 80 and ls[-1] < 50, ls


def test_yellow_is_the_saturated_classic():
    px = rgba(draw_emoticon(EmoticonState("neutral", "yellow"), 128))
    fill = np.median(px[..., :3][px[..., 3] == 255], axis=0)
    r, g, b = fill
    assert r > 220 and g > 170 and b < 120  # unmistakably emoji yellow, unlike any skin tone
    for t in SKIN_TONES:
        sr, sg, sb = pal.palette(t).fill
        assert (sg - sb) < (g - b)


DISTINCT_COMBOS = [
    (("yellow", "none", "round", False), 2.5),
    (("medium", "glasses", "round", False), 2.5),
    (("dark", "glasses", "rectangular", False), 2.5),
    (("light", "sunglasses", "round", False), 2.5),
    (("medium_light", "none", "round", True), 2.5),
    (("dark", "glasses", "rectangular", True), 2.0),
    (("medium_dark", "sunglasses", "round", True), 1.5),  # only brows and extras are left here
]


@pytest.mark.parametrize("combo,threshold", DISTINCT_COMBOS)
def test_every_pair_of_expressions_differs(combo, threshold):
    faces = {e: rgba(draw_emoticon(EmoticonState(e, *combo), 96))[..., :3] for e in EXPRESSIONS}
    for a, b in itertools.combinations(EXPRESSIONS, 2):
        diff = float(np.abs(faces[a] - faces[b]).mean())
        assert diff > threshold, (combo, a, b, diff)


def test_expressions_use_their_cues():
    """The named cues of issue #5, checked on the params that drive the drawing."""
    p = EXPRESSION_PARAMS
    n = p["neutral"]
    assert p["angry"].brow_raise < n.brow_raise and p["angry"].brow_tilt < 0 and p["angry"].brow_squeeze > 0
    assert p["angry"].mouth_width < n.mouth_width + 0.01 and p["angry"].mouth_open == 0
    assert p["disgust"].nose_wrinkle > 0 and p["disgust"].mouth_upper >= 0.6 and abs(p["disgust"].mouth_side) > 0.5
    assert p["fear"].brow_raise > 0 and p["fear"].eye_open_l > 1 and p["fear"].mouth_width > n.mouth_width
    assert p["happy"].mouth_curve > 0.5 and p["happy"].eye_smile > 0.5
    assert p["sad"].brow_tilt > 0.5 and p["sad"].mouth_curve < -0.5
    assert p["surprise"].brow_raise > 0.5 and p["surprise"].mouth_open > 0.5 and p["surprise"].mouth_square < 0.3


def test_params_blend_and_quantize():
    a, b = expression_params("sad"), expression_params("happy")
    assert blend(a, b, 0) == a and blend(a, b, 1) == b
    mid = blend(a, b, 0.5)
    assert mid.mouth_curve == pytest.approx((a.mouth_curve + b.mouth_curve) / 2)
    assert FaceParams(mouth_open=0.512).quantized() == FaceParams(mouth_open=0.5)
    assert a.with_eyes(0.0).eye_open_l == 0.0


def test_head_pose_moves_features_not_the_disc():
    base = rgba(build_emoticon(FaceParams(), Style(), 96))
    rolled = rgba(build_emoticon(FaceParams(head_roll=20), Style(), 96))
    assert np.array_equal(base[..., 3], rolled[..., 3])  # same round silhouette
    assert np.abs(base - rolled).mean() > 1.0




def test_a_plain_frame_is_neither_round_nor_rectangular():
    """Where the model is unsure of the frame, the emoticon wears a third shape, drawn between the two."""
    size = 128
    drawn = {shape: rgb(draw_emoticon(EmoticonState("neutral", "light", "glasses", shape), size)).astype(int)
             for shape in ("round", "rectangular", "plain")}
    diff = {k: int((np.abs(drawn["plain"] - drawn[k]).sum(2) > 60).sum()) for k in ("round", "rectangular")}
    assert min(diff.values()) > 20, diff  # visibly its own shape
    assert int((np.abs(drawn["round"] - drawn["rectangular"]).sum(2) > 60).sum()) > max(diff.values()), diff
