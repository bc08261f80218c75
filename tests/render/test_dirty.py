"""edge/render/dirty.py through the renderer: erasing only where the last frame drew gives the frames
a full redraw gives, and `changed` covers every pixel that changed."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
pygame = pytest.importorskip("pygame")

from edge.render import Renderer  # noqa: E402
from edge.render.dirty import merged  # noqa: E402
from edge.state import EmoticonState, FaceView, Motion, Scene  # noqa: E402


def rgb(surf: pygame.Surface) -> np.ndarray:
    return pygame.surfarray.array3d(surf).transpose(1, 0, 2).astype(np.float32)


def test_overlapping_rects_merge_and_separate_ones_stay_apart():
    a, b, c = pygame.Rect(0, 0, 10, 10), pygame.Rect(5, 5, 10, 10), pygame.Rect(50, 50, 5, 5)
    assert merged([a, c, b]) == [c, pygame.Rect(0, 0, 15, 15)]
    assert merged([]) == []


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
