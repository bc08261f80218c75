"""Smoothing calms flicker without hiding real changes, person by person (who is who: test_track.py)."""
from __future__ import annotations

import numpy as np

from edge.perceive.person import Person, Smoothed
from edge.perceive.smooth import Smoother, emoticon_state, named_labels
from edge.state import EmoticonState

CLASSES = {"expression": ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"],
           "mask": ["mask", "no_mask"], "eyewear": ["none", "glasses", "sunglasses"]}


def onehot(i: int, n: int = 7, p: float = 0.9) -> np.ndarray:
    v = np.full(n, (1 - p) / (n - 1))
    v[i] = p
    return v


def stepped(s: Smoother, person: Person, probs: dict[str, np.ndarray], now: float) -> Smoothed:
    """One frame of one person's reads through the smoother; what it keeps of them after it."""
    s.update([person], [probs], now)
    return person.smoothed


def test_a_person_unseen_longer_than_the_timeout_starts_afresh():
    """No frames for longer than smooth.track_timeout_s (a camera lost and found again): the person the
    tracker still follows starts their smoothing afresh, as they did when the smoother kept its own tracks."""
    s, sad = Smoother(0.4, 1.0), onehot(5)
    soon, late = Person(1), Person(2)
    for person in (soon, late):
        stepped(s, person, {"expression": onehot(3)}, 0.0)
    carried_on = stepped(s, soon, {"expression": sad}, 0.9).probs["expression"]
    assert 0.1 < carried_on[3] < 0.9 and 0.1 < carried_on[5] < 0.9  # a step of 0.9 s from happy
    assert np.array_equal(stepped(s, late, {"expression": sad}, 1.1).probs["expression"], sad)


def test_one_odd_frame_does_not_flip_the_label_but_a_lasting_change_does():
    s, person = Smoother(0.4, 1.0), Person(1)
    t = 0.0
    for _ in range(30):
        tr = stepped(s, person, {"expression": onehot(3)}, t)
        t += 1 / 30
    tr = stepped(s, person, {"expression": onehot(5)}, t)  # one sad frame
    assert named_labels(tr, CLASSES)["expression"] == "happy"
    for _ in range(30):  # one second of sad
        t += 1 / 30
        tr = stepped(s, person, {"expression": onehot(5)}, t)
    assert named_labels(tr, CLASSES)["expression"] == "sad"


def _glasses_then(s: Smoother, bad: list[tuple[float, int]]) -> dict[str, str]:
    """Two seconds of clear glasses (and a happy face) at 10 fps, then frames (dt, eyewear class) that
    read sunglasses with the expression turning sad: the labels after them."""
    t, person = 0.0, Person(1)
    for _ in range(20):
        stepped(s, person, {"expression": onehot(3), "eyewear": onehot(1, 3)}, t)
        t += 0.1
    for dt, eyewear in bad:
        t += dt
        tr = stepped(s, person, {"expression": onehot(5), "eyewear": onehot(eyewear, 3)}, t)
    return named_labels(tr, CLASSES)


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
    from edge.perceive.perception import due

    model_of = {"expression": "expression", "eyewear": "attributes"}  # the head -> the model that reads it
    person, shown, t = Person(7), [], 0.0
    while t < until:
        before = t < change_at
        read = {"expression": onehot(3 if before else 5), "eyewear": onehot(1 if before else 2, 3)}
        ran = due([person], t)[7]
        probs = {head: p for head, p in read.items() if model_of[head] in ran}
        tr = stepped(s, person, probs, t)
        shown.append((t, named_labels(tr, CLASSES)))
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
        tones, person = set(), Person(1)
        for k in range(30):
            index = edge - 3 if k % 3 == 2 else edge + 3
            tr = stepped(s, person, {"skin_tone": band_scores(index)}, float(k))
            tones.add(SKIN_TONES[tr.labels["skin_tone"]])
        return tones

    assert shown_tones(Smoother(0.4, 1.0, head_time_constants=SmoothConfig().head_time_constants())) == {tone_of(edge + 3)}
    assert len(shown_tones(Smoother(0.4, 1.0))) == 2
