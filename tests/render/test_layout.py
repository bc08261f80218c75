"""Where the emoticons go: people at different heights keep up and down, rotated headless frames
get the portrait layout a portrait screen gets."""
from __future__ import annotations

import math

import numpy as np
import pygame
import pytest

from edge.render import Renderer, layout
from edge.state import EmoticonState, FaceView, Scene



@pytest.mark.parametrize("screen", [(1920, 1080), (1080, 1920), (800, 480)])
def test_four_people_in_two_rows_keep_up_and_down(screen):
    """Two people in front, two behind and higher in the camera frame: the emoticons of the
    higher ones are drawn higher, and left/right stays mirrored within each row."""
    # (track, camera x, camera y): 1 and 2 at the top of the frame, 3 and 4 at the bottom
    people = [(1, 0.3, 0.25), (2, 0.7, 0.25), (3, 0.25, 0.75), (4, 0.72, 0.75)]
    faces = [FaceView(t, EmoticonState("happy", "yellow"), x, center_y=y) for t, x, y in people]
    r = Renderer(screen)
    r.render(Scene(faces=faces), 0.0)
    pos = {t: (r._anims[t].tx, r._anims[t].ty) for t, _, _ in people}
    assert max(pos[1][1], pos[2][1]) < min(pos[3][1], pos[4][1])  # the top row is above
    assert pos[1][0] > pos[2][0] and pos[3][0] > pos[4][0]  # mirrored: camera-left is screen-right
    for a in pos:
        for b in pos:
            if a < b:
                assert math.dist(pos[a], pos[b]) >= r._anims[a].td * (1 + layout.GAP) - 2


def test_people_side_by_side_still_get_a_row():
    faces = [FaceView(t, EmoticonState("happy", "yellow"), x, center_y=0.5 + 0.05 * t) for t, x in ((1, 0.2), (2, 0.8))]
    r = Renderer((1920, 1080))
    r.render(Scene(faces=faces), 0.0)
    assert r._anims[1].ty == r._anims[2].ty


def test_rotated_headless_frames_get_the_portrait_layout(tmp_path):
    from edge.config import DisplayConfig
    from edge.display import Display

    display = Display(DisplayConfig(mode="headless", rotation=90), "headless", str(tmp_path))
    try:
        assert display.size == (720, 1280)  # drawn as a portrait picture, like a portrait window
        r = Renderer(display.size)
        faces = [FaceView(i, EmoticonState("happy", "yellow"), 0.1 + 0.25 * i) for i in range(4)]
        display.show(r.render(Scene(faces=faces), 0.0))
        ys = {round(a.ty) for a in r._anims.values()}
        assert len(ys) > 1  # a portrait arrangement, not a row shrunk to fit the width
    finally:
        display.close()
    saved = pygame.image.load(str(next(tmp_path.glob("frame_*.png"))))
    assert saved.get_size() == (720, 1280)
    portrait = Renderer((720, 1280))
    expected = pygame.surfarray.array3d(portrait.render(Scene(faces=faces), 0.0))
    assert np.abs(pygame.surfarray.array3d(saved).astype(int) - expected).mean() < 1.0
