"""Tracks follow people across frames; smoothing calms flicker without hiding real changes."""
from __future__ import annotations

import numpy as np

from edge.smooth import Smoother, emoticon_state
from edge.state import EmoticonState, Face

CLASSES = {"expression": ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"],
           "mask": ["mask", "no_mask"]}


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


def test_state_defaults_for_heads_without_a_model_and_tone_override():
    assert emoticon_state({}, None) == EmoticonState()
    st = emoticon_state({"expression": "happy", "mask": "mask", "skin_tone": "dark"}, None)
    assert st.expression == "happy" and st.mask and st.tone == "dark"
    assert emoticon_state({"skin_tone": "dark"}, "yellow").tone == "yellow"
