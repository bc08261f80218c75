"""The live screen (edge/render/renderer.py): faces stay round on every screen, in mirror order,
crossfade and follow motion, blink, and share the screen with messages, the overlay and the camera picture.

Split from tests/test_render.py (the emoticon art); pixel checks read the real drawn surfaces.
"""
from __future__ import annotations

import itertools
import os

os.environ["SDL_VIDEODRIVER"] = "dummy"

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

from edge.render import Renderer, layout  # noqa: E402
from edge.render.emoticon import Style, build_emoticon  # noqa: E402
from edge.render.features import EYE_X, EYE_Y  # noqa: E402
from edge.render.gallery import make_sheet  # noqa: E402
from edge.render.params import expression_params, with_motion  # noqa: E402
from edge.state import EXPRESSIONS, EmoticonState, FaceView, Motion, Scene  # noqa: E402
from fakes import SCREENS, lightness, region, rgb, rgba  # noqa: E402

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
    """Every variant is on the sheet: 480 emoticon faces (warm-coloured blobs on the blue-grey sheet,
    each at least a fifth of its cell), no more, no fewer."""
    import cv2

    from edge.render.gallery import variants

    out = make_sheet(tmp_path / "sheet.png", size=24)
    sheet = pygame.image.load(str(out))
    assert sheet.get_width() > 24 * 24 and sheet.get_height() > 14 * 24
    img = cv2.imread(str(out)).astype(int)
    warm = cv2.morphologyEx((img[:, :, 2] > img[:, :, 0] + 20).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    _, _, stats, _ = cv2.connectedComponentsWithStats(warm, connectivity=8)
    faces = int((stats[1:, cv2.CC_STAT_AREA] > 0.2 * 24 * 24).sum())
    assert faces == len(variants()) == 480


def test_bench_runs():
    from edge.render.speed import bench_render

    res = bench_render((320, 240), frames=10)
    assert res["size"] == "320x240" and res["variant_px"] > 0
    assert 0 < res["frame_ms_median"] <= res["frame_ms_max"] and 0 < res["new_variant_ms"] <= res["new_variant_ms_max"]
    # a new variant is drawn from scratch, a cached frame only blits: the first costs more (a ratio in one run)
    assert res["new_variant_ms"] > res["frame_ms_median"]


