"""The perceiving half of the frame loop: which faces get motion, and when the meshes take turns."""
from __future__ import annotations

import time

from edge.perceive.half import MotionPolicy


def test_auto_motion_covers_max_faces_and_sheds_when_frames_are_slow():
    from collections import deque

    busy = deque(maxlen=30)
    policy = MotionPolicy("auto", max_faces=1, min_fps=20)
    assert policy.faces(3, busy, 0.0) == 1 and "1 of 3" in policy.note
    assert policy.faces(1, busy, 0.1) == 1 and policy.note == ""
    busy.extend([80.0] * 30)  # 80 ms frames, budget 50 ms
    assert policy.faces(1, busy, 1.0) == 0 and "paused" in policy.note
    busy.extend([10.0] * 30)
    assert policy.faces(1, busy, 20.0) == 0  # still in the 30 s pause
    assert policy.faces(1, busy, 31.5) == 1 and policy.note == ""
    assert MotionPolicy("on", 1, 20).faces(4, deque([999.0] * 30, maxlen=30), 0.0) == 4
    assert MotionPolicy("off", 1, 20).faces(4, busy, 0.0) == 0


def test_before_a_frame_the_policy_says_how_many_faces_can_move():
    """So the perception measures no face whose motion will not be shown (edge/perceive/perception.py MotionPlan.measured)."""
    from collections import deque

    policy = MotionPolicy("auto", max_faces=2, min_fps=20)
    assert policy.most(0.0) == 2
    policy.faces(1, deque([80.0] * 30, maxlen=30), 1.0)  # slow frames: motion shed for 30 s
    assert policy.most(20.0) == 0 and policy.most(31.5) == 2
    assert MotionPolicy("on", 1, 20).most(0.0) is None and MotionPolicy("off", 4, 20).most(0.0) == 0


def test_busy_frames_put_every_face_mesh_on_turns_and_quiet_ones_take_it_back():
    """motion.turns_when_busy: frames that take most of a 30 fps camera's 33 ms (a Pi 4 with one
    blendshape face) put every mesh on turns, the largest face's too; the rate comes back only
    well below (a frame at full rate costs ~1.6x one at turns, so it must not flap in between)."""
    from collections import deque

    busy, interval = deque(maxlen=30), 1000 / 30
    policy = MotionPolicy("auto", max_faces=4, min_fps=20, turns_when_busy=True)
    assert policy.full_rate_faces(2, busy, interval) == 2  # no full window yet
    busy.extend([30.0] * 30)
    assert policy.full_rate_faces(2, busy, interval) == 0
    busy.extend([20.0] * 30)  # at turns: what full rate would make 32 ms again
    assert policy.full_rate_faces(2, busy, interval) == 0
    busy.extend([14.0] * 30)
    assert policy.full_rate_faces(2, busy, interval) == 2
    assert MotionPolicy("auto", 4, 20).full_rate_faces(2, deque([30.0] * 30, maxlen=30), interval) == 2  # switched off


def test_the_loops_busy_time_sheds_motion_in_the_perceiving_half(detector, portraits, tmp_path):
    """The loop hands over what its last frame took (edge/app.py); the perceiving half keeps its own
    window of it, so that it decides the same in a process of its own (edge/perceive/process.py)."""
    from edge.perceive.classify import ClassifierSet
    from edge.config import Config
    from edge.perceive.landmarks import FaceMesh
    from edge.perceive.perception import Perception
    from edge.perceive.half import SHED_WINDOW, Perceiver

    cfg = Config()  # motion auto, min_fps 20: a budget of 50 ms a frame
    half = Perceiver(cfg, Perception(detector, ClassifierSet(tmp_path), FaceMesh(1)))
    image = portraits["astronaut.png"]
    first = half(image, 0.0, None)
    assert first.faces == 1 and first.detected and first.views[0].motion is not None and first.note == ""
    for i in range(1, SHED_WINDOW + 1):
        out = half(image, i / 30, 80.0)
    assert "motion paused" in out.note and half.motion.most(time.monotonic()) == 0  # no face measured next
    assert half(None, 2.0, 80.0).faces == 0 and not half(None, 2.1, 80.0).detected
