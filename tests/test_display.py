"""edge/display.py: a frame shown with the renderer's changed parts leaves the screen exactly as
the whole frame would, upright or rotated."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
pygame = pytest.importorskip("pygame")

from edge.config import DisplayConfig  # noqa: E402
from edge.display import Display  # noqa: E402
from edge.render import Renderer  # noqa: E402
from edge.state import EmoticonState, FaceView, Motion, Scene  # noqa: E402


@pytest.mark.parametrize("rotation", [0, 90])
def test_showing_only_what_changed_leaves_the_whole_frame_on_screen(rotation):
    display = Display(DisplayConfig(mode="headless", width=480, height=270), "headless")
    display.rotation = rotation  # as on a panel mounted sideways (fullscreen only; headless frames stay upright)
    try:
        r = Renderer((270, 480) if rotation else display.size)
        partial = 0
        for i in range(40):  # a face gliding across and talking
            scene = Scene(faces=[FaceView(1, EmoticonState("happy"), 0.2 + 0.015 * i, Motion(mouth_open=(i % 10) / 10))])
            frame = r.render(scene, 10.0 + i / 30)
            partial += r.changed is not None
            display.show(frame, r.changed)
            shown = pygame.surfarray.array3d(display.screen)
            if rotation:
                frame = pygame.transform.rotate(frame, -rotation)
            assert np.array_equal(shown, pygame.surfarray.array3d(frame)), i
        assert partial >= 30
    finally:
        display.close()


def test_headless_with_nowhere_to_write_says_so(caplog):
    """setup.sh's own "Try" line ran headless with no --out: silently, for ever."""
    import logging

    from edge.config import DisplayConfig
    from edge.display import open_display

    with caplog.at_level(logging.WARNING):
        display = open_display(DisplayConfig(mode="headless", width=64, height=48))
        display.close()
    assert any("nothing is shown or saved" in r.message for r in caplog.records)
