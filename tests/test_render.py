"""Renderer and emoticon art: every variant draws, the art keeps its promises, screens never stretch.

Pixel checks read the real drawn surfaces, so they hold for any future redraw of the art as long as
the promises of issue #5 hold (mask over the mouth, dark sunglasses, ordered tones, distinct
expressions, round faces, mirror order).
"""
from __future__ import annotations

import itertools
import math
import os

os.environ["SDL_VIDEODRIVER"] = "dummy"

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

from edge.render import (  # noqa: E402
    Renderer,
    draw_emoticon,
    layout,  # noqa: E402
)
from edge.render import palette as pal  # noqa: E402
from edge.render.emoticon import CACHE_BYTES, Style, VariantCache, build_emoticon  # noqa: E402
from edge.render.features import EYE_X, EYE_Y  # noqa: E402
from edge.render.gallery import make_sheet, variants  # noqa: E402
from edge.render.params import (  # noqa: E402
    EXPRESSION_PARAMS,
    FaceParams,
    blend,
    expression_params,
    with_motion,
)
from edge.state import (  # noqa: E402
    EXPRESSIONS,
    SKIN_TONES,
    TONES,
    EmoticonState,
    FaceView,
    Motion,
    Scene,
)

SIZES = (32, 96, 256)
SCREENS = ((1920, 1080), (800, 480), (1080, 1920))


def rgba(surf: pygame.Surface) -> np.ndarray:
    """H x W x 4 float array."""
    rgb = pygame.surfarray.array3d(surf).transpose(1, 0, 2)
    a = pygame.surfarray.array_alpha(surf).T
    return np.dstack([rgb, a]).astype(np.float32)


def rgb(surf: pygame.Surface) -> np.ndarray:
    return pygame.surfarray.array3d(surf).transpose(1, 0, 2).astype(np.float32)


def region(size: int, cx: float, cy: float, rx: float, ry: float) -> tuple[slice, slice]:
    """Pixel slices of a box given in face units (centre 0,0, radius 1, y down)."""
    r = size / 2
    rows = slice(int(r + (cy - ry) * r), int(r + (cy + ry) * r))
    cols = slice(int(r + (cx - rx) * r), int(r + (cx + rx) * r))
    return rows, cols


def lightness(px: np.ndarray) -> np.ndarray:
    """CIE L* of sRGB values (0..255)."""
    c = px / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    y = lin[..., 0] * 0.2126 + lin[..., 1] * 0.7152 + lin[..., 2] * 0.0722
    return np.where(y > 0.008856, 116 * np.cbrt(y) - 16, 903.3 * y)


# ------------------------------------------------------------------------------------------ variants


def test_variant_count_is_384():
    vs = variants()
    assert len(vs) == 8 * 6 * 4 * 2 == len(set(vs))


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


# ------------------------------------------------------------------------------------------ screens


def _yellow(img: np.ndarray) -> np.ndarray:
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return (r > 150) & (g > b + 40) & (r > b + 80)


def _light(img: np.ndarray) -> np.ndarray:
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return (r > 190) & (g > 160) & (b > 140)


def _components(mask: np.ndarray, step: int = 4) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (x0, y0, x1, y1) of 4-connected blobs, on a subsampled grid."""
    small = mask[::step, ::step]
    seen = np.zeros_like(small, bool)
    boxes = []
    h, w = small.shape
    for y, x in zip(*np.nonzero(small)):
        if seen[y, x]:
            continue
        stack = [(y, x)]
        seen[y, x] = True
        ys, xs = [], []
        while stack:
            cy, cx = stack.pop()
            ys.append(cy)
            xs.append(cx)
            for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                if 0 <= ny < h and 0 <= nx < w and small[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        if len(ys) > 20:
            boxes.append((min(xs) * step, min(ys) * step, (max(xs) + 1) * step, (max(ys) + 1) * step))
    return boxes


def _settled(renderer: Renderer, scene: Scene, t: float = 100.0) -> np.ndarray:
    """The frame after a second of frames: past fade-in, crossfade and glide. (New variants are
    built within a per-frame budget, so the first frames may not show every face yet.)"""
    for i in range(12):
        renderer.render(scene, t + i / 12)
    return rgb(renderer.render(scene, t + 1.0))


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("n", [0, 1, 4])
def test_faces_stay_round_on_every_screen(screen, n):
    faces = [FaceView(i, EmoticonState(EXPRESSIONS[i], "yellow"), 0.1 + 0.25 * i) for i in range(n)]
    r = Renderer(screen)
    img = _settled(r, Scene(faces=faces))
    assert img.shape[:2] == (screen[1], screen[0])
    if n == 0:  # the attract screen shows one (animated) emoticon
        boxes = _components(_yellow(img) | _light(img))
        assert len(boxes) >= 1
        x0, y0, x1, y1 = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
        assert abs((x1 - x0) / (y1 - y0) - 1) < 0.06
        return
    boxes = _components(_yellow(img))
    assert len(boxes) == n, boxes
    for x0, y0, x1, y1 in boxes:
        w, h = x1 - x0, y1 - y0
        assert abs(w / h - 1) < 0.05, (screen, n, w, h)
        assert w > 0.2 * min(screen)  # faces use the screen, four on a 800x480 included


@pytest.mark.parametrize("screen", SCREENS)
def test_mirror_order(screen):
    """A person at the left of the camera frame (small x) is on the right of a mirror."""
    faces = [FaceView(1, EmoticonState("happy", "yellow"), 0.2), FaceView(2, EmoticonState("happy", "light"), 0.8)]
    img = _settled(Renderer(screen), Scene(faces=faces))
    yx = np.nonzero(_yellow(img))[1].mean()
    lx = np.nonzero(_light(img))[1].mean()
    assert yx > lx


def test_mirror_x():
    assert layout.mirror_x(0.1) == pytest.approx(0.9)


def test_layout_adapts_instead_of_stretching():
    for w, h in SCREENS:
        for n in range(1, 5):
            slots = layout.face_slots(n, w, h)
            xs = [s.cx for s in slots]
            assert xs == sorted(xs) and len(set(xs)) == n  # left-to-right order is kept
            for s in slots:
                assert s.d / 2 <= s.cx <= w - s.d / 2 and s.d / 2 <= s.cy <= h - s.d / 2
            for a, b in itertools.combinations(slots, 2):
                assert np.hypot(a.cx - b.cx, a.cy - b.cy) >= a.d  # no overlap
    # a portrait screen does not shrink faces into a row
    assert layout.face_slots(2, 1080, 1920)[0].d > 1080 / 2


def test_message_and_overlay_and_no_display():
    r = Renderer((800, 480))
    blank = rgb(r.render(Scene(message="Camera lost \u2014 reconnecting\u2026"), 0.0))
    img = rgb(r.render(Scene(message="Camera lost \u2014 reconnecting\u2026", overlay=["12.0 fps", "x 1 ms"]), 1.0))
    assert (img[270:350].min(axis=2) > 180).sum() > 100  # white message text below the face
    assert np.abs(img[:40, :120] - blank[:40, :120]).mean() > 5  # overlay in the top-left corner
    assert not pygame.display.get_init()  # the renderer never touches the display


def test_state_change_crossfades_quickly():
    r = Renderer((800, 480))
    a = Scene(faces=[FaceView(7, EmoticonState("happy"), 0.5)])
    b = Scene(faces=[FaceView(7, EmoticonState("sad"), 0.5)])
    _settled(r, a, 10.0)
    r.render(b, 11.0)
    mid = r.render(b, 11.1)
    anim = r._anims[7]
    assert anim.prev is not None  # still crossfading at 100 ms
    r.render(b, 11.25)
    assert r._anims[7].prev is None  # done within 250 ms
    assert mid is r.render(b, 11.3)  # the same surface object is reused


# ------------------------------------------------------------------------------------------ live motion


def test_motion_moves_the_expression_without_fighting_it():
    happy = expression_params("happy")
    talking = with_motion(happy, Motion(mouth_open=1.0, smile=-1.0))
    assert talking.mouth_open == 1.0 and talking.mouth_curve >= 0.6 * happy.mouth_curve > 0  # still a smile
    sad = expression_params("sad")
    assert with_motion(sad, Motion(smile=1.0)).mouth_curve < 0  # still a frown
    surprise = expression_params("surprise")
    assert with_motion(surprise, Motion(mouth_open=0.0)).mouth_open >= 0.5 * surprise.mouth_open
    wink = with_motion(expression_params("neutral"), Motion(eye_open_right=0.05, eye_open_left=1.0))
    assert wink.eye_open_r == 0.0 and wink.eye_open_l == expression_params("neutral").eye_open_l  # mirror side
    tilted = with_motion(expression_params("neutral"), Motion(roll_deg=12.0, yaw_deg=-50.0, brow_raise=1.0))
    assert tilted.head_roll == 10.0 and tilted.head_yaw == -1.0 and tilted.brow_raise > 0.4
    # jitter below a level does not make a new variant
    assert with_motion(happy, Motion(mouth_open=0.61)) == with_motion(happy, Motion(mouth_open=0.55))


def test_closed_eyes_are_drawn_closed():
    size = 128
    open_ = rgba(build_emoticon(expression_params("neutral"), Style(), size))
    shut = rgba(build_emoticon(with_motion(expression_params("neutral"), Motion(eye_open_left=0.0,
                                                                                eye_open_right=0.0)), Style(), size))
    rows, cols = region(size, EYE_X, EYE_Y, 0.12, 0.1)
    dark = lambda img: (lightness(img[rows, cols, :3]) < 40).sum()  # noqa: E731
    assert dark(shut) < 0.5 * dark(open_)


def test_live_motion_cuts_between_poses_and_draws_drafts_while_moving():
    r = Renderer((800, 480))
    still = Scene(faces=[FaceView(3, EmoticonState("neutral"), 0.5, Motion())])
    _settled(r, still, 20.0)
    anim = r._anims[3]
    assert anim.live
    talk = Scene(faces=[FaceView(3, EmoticonState("neutral"), 0.5, Motion(mouth_open=1.0))])
    r.render(talk, 21.5)
    assert anim.shown[0].mouth_open == 1.0 and anim.prev is None  # shown this frame, no crossfade
    size = int(anim.td)
    assert r.cache.peek(*anim.shown, size) is None  # not the smooth variant yet: a draft
    assert r.cache.peek(*anim.shown, size, draft=True) is not None
    for i in range(12):  # held for a while: the smooth variant is built in spare time
        r.render(talk, 21.5 + (i + 1) * 0.05)
    assert r.cache.peek(*anim.shown, size) is not None
    # a change of expression is still a crossfade
    sad = Scene(faces=[FaceView(3, EmoticonState("sad"), 0.5, Motion())])
    r.render(sad, 23.0)
    r.render(sad, 23.05)
    assert anim.prev is not None


@pytest.mark.parametrize("live", [True, False])
def test_only_faces_without_motion_blink_on_their_own(live):
    r = Renderer((320, 240))
    scene = Scene(faces=[FaceView(5, EmoticonState("neutral"), 0.5, Motion() if live else None)])
    drawn = []
    variant, live_variant = r._variant, r._live_variant

    def spy(look, *args, **kwargs):
        drawn.append(look[0].eye_open_l)
        return variant(look, *args, **kwargs)

    def live_spy(anim, look, *args, **kwargs):
        drawn.append(look[0].eye_open_l)
        return live_variant(anim, look, *args, **kwargs)

    r._variant, r._live_variant = spy, live_spy
    for i in range(30 * 8):  # 8 s: two or more automatic blinks for a face without motion
        r.render(scene, 30.0 + i / 30)
    assert (min(drawn) == 1.0) == live


def test_picture_in_picture_is_mirrored():
    cam = np.zeros((120, 160, 3), np.uint8)
    cam[:, :80] = (255, 0, 0)  # left half of the camera frame red
    r = Renderer((800, 480), pip=True)
    img = _settled(r, Scene(faces=[FaceView(1, EmoticonState(), 0.5)], camera_rgb=cam))
    red = (img[..., 0] > 200) & (img[..., 1] < 60) & (img[..., 2] < 60)
    ys, xs = np.nonzero(red)
    assert len(xs) > 500 and xs.min() > 800 * 0.6 and ys.min() > 480 * 0.5  # bottom-right corner
    pip_x0 = 800 - 0.025 * 480 - 0.22 * 800
    assert xs.min() > pip_x0 + 0.4 * 0.22 * 800  # red is on the right half: mirrored
    faces = _components(_yellow(img))
    assert len(faces) == 1 and faces[0][2] < pip_x0 + 5  # the face keeps clear of the camera picture


def test_more_than_four_faces_shows_four():
    faces = [FaceView(i, EmoticonState(), i / 6) for i in range(6)]
    img = _settled(Renderer((1920, 1080)), Scene(faces=faces))
    assert len(_components(_yellow(img))) == 4


def test_gallery_sheet(tmp_path):
    out = make_sheet(tmp_path / "sheet.png", size=24)
    sheet = pygame.image.load(str(out))
    assert sheet.get_width() > 24 * 24 and sheet.get_height() > 14 * 24


def test_bench_runs():
    from edge.render.bench import bench_render

    res = bench_render((320, 240), frames=10)
    assert res["fps_cached"] > 0 and res["new_variant_ms"] > 0



def _story(i: int) -> Scene:
    """Four seconds of a booth at 30 fps: a person moving and talking, the overlay on, a second one
    arriving, the first leaving, nobody (the attract screen fades in), somebody again, a message."""
    t = i / 30
    a = FaceView(1, EmoticonState("happy" if t < 1.0 else "surprise", "medium"), 0.3 + 0.1 * math.sin(3 * t),
                 Motion(mouth_open=0.5 + 0.5 * math.sin(5 * t)))
    b = FaceView(2, EmoticonState("neutral", "light", "glasses", "round"), 0.7)
    overlay = ["30.0 fps  faces 1"] if 1.0 <= t < 1.6 else []
    if t < 1.4:
        return Scene(faces=[a], overlay=overlay)
    if t < 2.3:
        return Scene(faces=[a, b], overlay=overlay)
    if t < 2.8:
        return Scene(faces=[b])
    if t < 3.2:
        return Scene()
    if t < 3.7:
        return Scene(faces=[b])
    return Scene(message="camera lost - reconnecting")


def test_redrawing_only_what_changed_gives_the_frames_a_full_redraw_gives(monkeypatch):
    """The renderer erases just where the last frame drew while only faces are on screen: every frame
    of a busy four seconds is pixel for pixel the frame of a renderer that redraws everything, and
    what differs from the frame before lies inside the parts it says changed."""
    import edge.render.renderer as renderer_module

    monkeypatch.setattr(renderer_module, "BUILD_BUDGET_S", 10.0)  # both build every variant at once: same frames
    partial, full = Renderer((320, 180)), Renderer((320, 180))
    before, partial_frames = None, 0
    for i in range(4 * 30):
        full.invalidate()
        b = rgb(full.render(_story(i), 50.0 + i / 30))
        a = rgb(partial.render(_story(i), 50.0 + i / 30))
        assert np.array_equal(a, b), i
        if partial.changed is not None:
            partial_frames += 1
            inside = np.zeros(a.shape[:2], bool)
            for r in partial.changed:
                inside[r.top:r.bottom, r.left:r.right] = True
            assert not (np.any(a != before, axis=2) & ~inside).any(), i
        before = a
    assert partial_frames > 60  # most frames of it are faces only
    assert full.changed is None
