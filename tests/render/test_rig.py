"""The blendshape rig: every one of the 52 outputs moves a named part of the emoticon (or is listed as
unused with the reason), on the side the mirror shows it, and the drawing changes where it should."""
from __future__ import annotations

import numpy as np
import pygame
import pytest

from edge.perceive.blendshapes import NAMES
from edge.render.emoticon import Style, build_emoticon
from edge.render.features import EYE_X, EYE_Y
from edge.render.params import expression_params
from edge.render.rig import RIG, UNUSED, with_blendshapes

REST = expression_params("neutral")


def test_every_output_is_mapped_or_unused_with_a_reason():
    assert set(RIG) | set(UNUSED) == set(NAMES) and not set(RIG) & set(UNUSED)
    assert all(len(why) > 20 for why in UNUSED.values())


@pytest.mark.parametrize("name", sorted(RIG))
def test_each_mapped_output_moves_the_params(name):
    context = {"jawOpen": 0.5} if name == "mouthClose" else {}  # lips closed over an open jaw
    assert with_blendshapes(REST, {**context, name: 1.0}) != with_blendshapes(REST, context)


def test_sides_follow_the_mirror():
    wink = with_blendshapes(REST, {"eyeBlinkRight": 1.0})
    assert wink.eye_open_r < 0.2 and wink.eye_open_l == REST.eye_open_l
    half_smile = with_blendshapes(REST, {"mouthSmileRight": 1.0})
    assert half_smile.mouth_tilt > 0.5  # the viewer's right corner up, as in a mirror
    assert with_blendshapes(REST, {"mouthLeft": 1.0}).mouth_shift < 0
    assert with_blendshapes(REST, {"browOuterUpLeft": 1.0}).brow_outer_l == 1.0


def _dark(surface: pygame.Surface, x: float, y: float, r: float = 0.08) -> float:
    """Share of dark pixels in a small square around face point (x, y) (face units, radius 1)."""
    a = pygame.surfarray.array3d(surface).swapaxes(0, 1).astype(float)
    size = a.shape[0]
    cx, cy, rr = int(size / 2 * (1 + x)), int(size / 2 * (1 + y)), max(2, int(size / 2 * r))
    patch = a[cy - rr:cy + rr, cx - rr:cx + rr].mean(-1)
    return float((patch < 120).mean())


def test_a_wink_and_a_pucker_change_the_drawing_where_they_should():
    rest = build_emoticon(REST, Style("light"), 200)
    wink = build_emoticon(with_blendshapes(REST, {"eyeBlinkRight": 1.0}), Style("light"), 200)
    assert _dark(wink, EYE_X, EYE_Y) < 0.5 * _dark(rest, EYE_X, EYE_Y)  # the viewer's right eye closed
    assert _dark(wink, -EYE_X, EYE_Y) == pytest.approx(_dark(rest, -EYE_X, EYE_Y), abs=0.02)
    pucker = build_emoticon(with_blendshapes(REST, {"mouthPucker": 1.0}), Style("light"), 200)
    corner = 0.3 * REST.mouth_width * 0.85
    assert _dark(pucker, corner, 0.47, 0.04) < _dark(rest, corner, 0.47, 0.04)  # the corners drew in
    puff = build_emoticon(with_blendshapes(REST, {"cheekPuff": 1.0}), Style("light"), 200)
    diff = np.abs(pygame.surfarray.array3d(puff).astype(int) - pygame.surfarray.array3d(rest).astype(int)).sum(-1)
    assert (diff[:, 110:160] > 30).sum() > 150  # the cheeks beside the mouth changed
