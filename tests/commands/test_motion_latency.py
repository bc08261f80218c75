"""Issue #22's target, end to end: the display shows each blendshape-driven change within 2 frames of
the camera. The real mirror (edge/build.py) runs on Grace Hopper's portrait that, at one frame, drops
her jaw, shuts one eye or lifts one brow; a display that keeps the emoticon's pixels says when the
drawing changed, where it should, beyond what the rest face does by itself (edge/commands/motion_latency.py)."""
from __future__ import annotations

import numpy as np
import pytest

from edge.commands.motion_latency import MOVEMENTS, TARGET_FRAMES, FaceWatcher, StepSource, camera_frame, measure, region_change
from edge.render import Renderer
from edge.render.emoticon import Style, build_emoticon
from edge.render.params import expression_params, with_motion
from edge.state import Motion


@pytest.mark.parametrize("movement", list(MOVEMENTS))
def test_each_blendshape_driven_change_is_on_screen_within_two_frames(movement):
    m = measure(movement)
    assert m.held_change > max(2 * m.rest_noise, 1.0) + 1.0, m  # the held change is plainly visible
    assert m.elsewhere < m.held_change, m  # ... and where it belongs
    assert m.first_frames is not None and m.first_frames <= TARGET_FRAMES, m
    assert m.half_frames is not None and m.half_frames <= TARGET_FRAMES, m  # half of it, not a hint
    assert m.shape[-1] > m.shape[0] + 0.04, m  # the blendshape itself rose (not only the 468-point signals)


@pytest.mark.parametrize("rest_frames", [75, 76])
def test_with_the_mesh_on_every_other_frame_a_wink_is_still_on_screen_within_two_frames(rest_frames):
    """motion.full_rate_faces = 0 (half the mesh's cost): the change lands on a frame the face is
    meshed on, or on one it is not; either way it is drawn within the target."""
    from edge.config import Config

    cfg = Config()
    cfg.motion.full_rate_faces = 0
    m = measure("wink", cfg, rest_frames=rest_frames)
    assert m.held_change > max(2 * m.rest_noise, 1.0) + 1.0, m
    assert m.first_frames is not None and m.first_frames <= 1, m  # a frame late at most
    assert m.half_frames is not None and m.half_frames <= TARGET_FRAMES, m


def test_the_source_changes_at_its_frame_on_a_cameras_clock():
    rest = camera_frame(np.full((60, 50, 3), 100, np.uint8))
    src = StepSource(rest, rest + 50, change_at=3, frames=5, fps=30.0)
    frames = [src.read() for _ in range(6)]
    assert frames[-1] is None
    means = [f.image_bgr.mean() for f in frames[:5]]
    assert max(means[:3]) < 101 < 149 < min(means[3:])
    assert np.allclose(np.diff([f.t_capture for f in frames[:5]]), 1 / 30)


def test_the_watcher_cuts_out_the_face_whatever_its_bob():
    """Two frames of one still face differ by nothing once cut out, though the idle bob moved it; a
    face with its mouth open differs in the mouth region and much less in the brows."""
    r = Renderer((640, 360))
    w = FaceWatcher(r)
    bg = r.look.background(r.size)
    params = expression_params("neutral")
    for shift, p in ((0, params), (5, params), (3, with_motion(params, Motion(mouth_open=1.0)))):
        screen = bg.copy()
        screen.blit(build_emoticon(p, Style(), 200), (200 + shift, 80 - shift))
        w.show(screen)
    a, b, c = w.faces
    assert a.shape == b.shape and region_change(a, b, "mouth") == 0.0
    assert region_change(a, c, "mouth") > 5 * max(region_change(a, c, "brows"), 0.5)
