"""Tracks follow people across frames; smoothing calms flicker without hiding real changes."""
from __future__ import annotations

import numpy as np

from edge.perceive.smooth import Smoother, emoticon_state
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


def _scheduled(s: Smoother, change_at: float, until: float) -> list[tuple[float, dict[str, str]]]:
    """A face at 30 fps whose models run on the live schedule (edge/perceive/perception.py): happy in clear
    glasses until change_at, then sad in sunglasses; the labels shown after each frame."""
    from edge.perceive.perception import Schedule

    model_of = {"expression": "expression", "eyewear": "attributes"}  # the head -> the model that reads it
    schedule, shown, t = Schedule(), [], 0.0
    while t < until:
        before = t < change_at
        read = {"expression": onehot(3 if before else 5), "eyewear": onehot(1 if before else 2, 3)}
        due = schedule.due([7], t)[7]
        probs = {head: p for head, p in read.items() if model_of[head] in due}
        tr = s.update([face(100)], [probs], t, ids=[7])[0]
        shown.append((t, tr.named_labels(CLASSES)))
        t += 1 / 30
    return shown


def _shown_after(shown: list[tuple[float, dict[str, str]]], head: str, label: str) -> float:
    """Seconds from the first frame to the frame from which `label` stays on `head`."""
    since = None
    for t, labels in shown:
        since = (since if since is not None else t) if labels[head] == label else None
    return since if since is not None else float("inf")


def test_heads_on_schedules_change_as_fast_as_their_time_constants_say():
    """The attributes run once a second and the expression ten times a second: each head's step is
    the time since it last ran on this face. Stepped by the frame interval, the sunglasses took about
    half a minute to show and the expression three times its time constant."""
    from edge.config import SmoothConfig

    s = Smoother(0.4, 1.0, head_time_constants=SmoothConfig().head_time_constants())
    shown = _scheduled(s, change_at=3.0, until=8.0)
    assert all(labels["eyewear"] == "glasses" and labels["expression"] == "happy" for t, labels in shown if t < 3.0)
    assert _shown_after(shown, "expression", "sad") - 3.0 < 0.6
    assert _shown_after(shown, "eyewear", "sunglasses") - 3.0 < 3.0


def test_a_skin_tone_read_near_a_band_edge_keeps_one_tone_on_screen():
    """Read once a second, a face near a band edge reads 3 above it twice and then 3 below (a head
    turned to the lamp): its own time constant keeps one tone; the expression's flips it each time."""
    from edge.config import SmoothConfig
    from edge.perceive.skin_tone import SKIN_TONES, TONE_EDGES, band_scores, tone_of

    edge = TONE_EDGES[1]

    def shown_tones(s: Smoother) -> set[str]:
        tones = set()
        for k in range(30):
            index = edge - 3 if k % 3 == 2 else edge + 3
            tr = s.update([face(100)], [{"skin_tone": band_scores(index)}], float(k), ids=[1])[0]
            tones.add(SKIN_TONES[tr.labels["skin_tone"]])
        return tones

    assert shown_tones(Smoother(0.4, 1.0, head_time_constants=SmoothConfig().head_time_constants())) == {tone_of(edge + 3)}
    assert len(shown_tones(Smoother(0.4, 1.0))) == 2
