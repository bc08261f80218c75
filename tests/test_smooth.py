"""Tracks follow people across frames; smoothing calms flicker without hiding real changes."""
from __future__ import annotations

import numpy as np

from edge.smooth import Smoother, emoticon_state
from edge.state import EmoticonState, Face

CLASSES = {"expression": ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"],
           "mask": ["mask", "no_mask"], "eyewear": ["none", "glasses", "sunglasses"]}


def face(x: float, y: float = 100, w: float = 80) -> Face:
    return Face(np.array([x, y, w, w], np.float32), 0.9, np.zeros((6, 2), np.float32))


def onehot(i: int, n: int = 7, p: float = 0.9) -> np.ndarray:
    v = np.full(n, (1 - p) / (n - 1))
    v[i] = p
    return v


def test_moving_face_keeps_its_track_and_a_new_one_gets_a_new_id():
    s = Smoother(0.4, 1.0)
    a = s.update([face(100)], [{}], 0.0)[0].track_id
    assert s.update([face(110)], [{}], 0.033)[0].track_id == a
    tracks = s.update([face(120), face(400)], [{}, {}], 0.066)
    assert tracks[0].track_id == a and tracks[1].track_id != a


def test_track_survives_a_missed_frame_but_not_a_timeout():
    s = Smoother(0.4, 1.0)
    a = s.update([face(100)], [{}], 0.0)[0].track_id
    s.update([], [], 0.5)
    assert s.update([face(105)], [{}], 0.6)[0].track_id == a
    s.update([], [], 0.7)
    assert s.update([face(105)], [{}], 2.0)[0].track_id != a


def test_one_odd_frame_does_not_flip_the_label_but_a_lasting_change_does():
    s = Smoother(0.4, 1.0)
    t = 0.0
    for _ in range(30):
        tr = s.update([face(100)], [{"expression": onehot(3)}], t)[0]
        t += 1 / 30
    tr = s.update([face(100)], [{"expression": onehot(5)}], t)[0]  # one sad frame
    assert tr.named_labels(CLASSES)["expression"] == "happy"
    for _ in range(30):  # one second of sad
        t += 1 / 30
        tr = s.update([face(100)], [{"expression": onehot(5)}], t)[0]
    assert tr.named_labels(CLASSES)["expression"] == "sad"


def _glasses_then(s: Smoother, bad: list[tuple[float, int]]) -> dict[str, str]:
    """Two seconds of clear glasses (and a happy face) at 10 fps, then frames (dt, eyewear class) that
    read sunglasses with the expression turning sad: the labels after them."""
    t = 0.0
    for _ in range(20):
        s.update([face(100)], [{"expression": onehot(3), "eyewear": onehot(1, 3)}], t)
        t += 0.1
    for dt, eyewear in bad:
        t += dt
        tr = s.update([face(100)], [{"expression": onehot(5), "eyewear": onehot(eyewear, 3)}], t)[0]
    return tr.named_labels(CLASSES)


def test_one_bad_frame_does_not_flip_the_eyewear_but_a_lasting_change_does():
    from edge.config import SmoothConfig

    slow = SmoothConfig().head_time_constants()
    # a stalled frame (0.5 s) that reads sunglasses: enough to turn the expression, not the glasses
    labels = _glasses_then(Smoother(0.4, 1.0, head_time_constants=slow), [(0.5, 2)])
    assert labels["expression"] == "sad" and labels["eyewear"] == "glasses"
    # the same frame with the expression's time constant on every head puts sunglasses on
    assert _glasses_then(Smoother(0.4, 1.0), [(0.5, 2)])["eyewear"] == "sunglasses"
    # a reflection over three frames at 10 fps (a head turning)
    assert _glasses_then(Smoother(0.4, 1.0, head_time_constants=slow), [(0.1, 2)] * 3)["eyewear"] == "glasses"
    # sunglasses put on: shown within two seconds
    assert _glasses_then(Smoother(0.4, 1.0, head_time_constants=slow), [(0.1, 2)] * 20)["eyewear"] == "sunglasses"


def test_state_defaults_for_heads_without_a_model_and_tone_override():
    assert emoticon_state({}, None) == EmoticonState()
    st = emoticon_state({"expression": "happy", "mask": "mask", "skin_tone": "dark"}, None)
    assert st.expression == "happy" and st.mask and st.tone == "dark"
    assert emoticon_state({"skin_tone": "dark"}, "yellow").tone == "yellow"
