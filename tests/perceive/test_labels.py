"""Which label a head shows: a frame shape only when the model is sure of it, never a flip between
round and rectangular through a frame it is unsure of."""
from __future__ import annotations

import numpy as np

from edge.perceive import labels
from edge.perceive.person import Smoothed
from edge.perceive.smooth import named_labels, step

SURE = labels.UNSURE_BELOW["glasses_shape"]


def _p(round_p: float) -> np.ndarray:
    return np.array([round_p, 1 - round_p], np.float32)


def test_an_unsure_frame_shape_is_shown_plain_at_a_first_look():
    assert labels.pick("glasses_shape", _p(0.6)) == labels.PLAIN
    assert labels.pick("glasses_shape", _p(SURE + 0.01)) == 0
    assert labels.pick("glasses_shape", _p(1 - SURE - 0.01)) == 1
    assert labels.name(["round", "rectangular"], labels.PLAIN) == "plain"
    assert labels.pick("eyewear", np.array([0.4, 0.35, 0.25])) == 0  # other heads: the best, however unsure


def test_a_frame_drifting_from_round_to_rectangular_passes_through_plain():
    shown = labels.pick("glasses_shape", _p(0.95))
    seen = []
    for round_p in np.linspace(0.95, 0.05, 40):
        shown = labels.pick("glasses_shape", _p(float(round_p)), shown)
        seen.append(shown)
    changes = [b for a, b in zip(seen, seen[1:]) if a != b]
    assert changes == [labels.PLAIN, 1]


def test_no_flicker_at_the_edge_of_sure():
    """Probabilities wobbling around the threshold keep what is shown (hysteresis both ways)."""
    for start in (0.9, 0.5):
        shown = labels.pick("glasses_shape", _p(start))
        seen = {labels.pick("glasses_shape", _p(SURE + d), shown) for d in (-0.03, 0.03, -0.02, 0.02)}
        assert seen == {shown}


def test_a_track_shows_plain_for_a_cat_eye_frame_and_keeps_it():
    """A live face whose frame the model reads 55/45 for ten seconds wears the plain frame throughout."""
    s = Smoothed()
    rng = np.random.default_rng(0)
    shown = []
    for i in range(100):
        step(s, {"glasses_shape": _p(float(np.clip(0.55 + rng.normal(0, 0.1), 0, 1)))}, i * 0.1, 0.4,
             {"glasses_shape": 1.5})
        shown.append(named_labels(s, {"glasses_shape": ["round", "rectangular"]})["glasses_shape"])
    assert set(shown) == {"plain"}


def test_classify_labels_a_photo_s_unsure_frame_plain(tmp_path):
    from edge.perceive.classify import ClassifierSet

    cs = ClassifierSet(tmp_path, skin_tone=False)
    cs.classes = lambda head: {"eyewear": ["none", "glasses", "sunglasses"],  # type: ignore[method-assign]
                               "glasses_shape": ["round", "rectangular"]}[head]
    shown = cs.labels({"eyewear": np.array([0.1, 0.8, 0.1]), "glasses_shape": _p(0.6)})
    assert shown == {"eyewear": "glasses", "glasses_shape": "plain"}
    assert cs.labels({"eyewear": np.array([0.1, 0.8, 0.1]), "glasses_shape": _p(0.9)})["glasses_shape"] == "round"
