"""The one perception pass: schedules per face, and the live pass on the demo against still photos."""
from __future__ import annotations

import numpy as np
import pytest

from edge.classify import ClassifierSet
from edge.config import SourceConfig
from edge.detect import BlazeFaceDetector, TiledDetector
from edge.landmarks import FaceMesh
from edge.perceive import EXPRESSION_PER_FRAME, Perception, Schedule
from edge.sources.demo import DemoSource


def test_new_faces_run_everything_then_each_model_keeps_its_own_pace():
    s = Schedule()
    assert s.due([1], 0.0) == {1: {"expression", "attributes"}}
    assert s.due([1], 0.05) == {1: set()}
    assert s.due([1], 0.1) == {1: {"expression"}}
    assert s.due([1], 1.0)[1] == {"expression", "attributes"}


def test_four_faces_share_the_expression_runs_of_a_frame():
    s = Schedule()
    runs = {t: 0 for t in (1, 2, 3, 4)}
    for frame in range(60):  # two seconds at 30 fps
        for t, models in s.due(list(runs), frame / 30).items():
            runs[t] += "expression" in models
    per_frame = [sum("expression" in m for m in s.due(list(runs), 2.0 + f / 30).values()) for f in range(30)]
    assert max(per_frame) <= EXPRESSION_PER_FRAME
    assert all(10 <= n <= 22 for n in runs.values()), runs  # about ten a second each, none starved


@pytest.fixture(scope="module")
def perception():
    short = BlazeFaceDetector("short", 1)
    return Perception(TiledDetector(short), ClassifierSet(views=4), FaceMesh(), far_detector=BlazeFaceDetector("full", 1))


def test_the_live_pass_follows_the_demo_and_runs_models_on_schedule(perception):
    src = DemoSource(SourceConfig())
    ran = {"expression": 0, "attributes": 0}
    frames = 90  # three seconds of the first portrait
    for i in range(frames):
        percepts = perception.live(src.frame_at(i), i / src.fps)
        assert len(percepts) == 1 and percepts[0].measure is not None
        ran["expression"] += "expression" in percepts[0].probs
        ran["attributes"] += "mask" in percepts[0].probs
    seconds = frames / src.fps
    assert 8 * seconds <= ran["expression"] <= 11 * seconds + 1
    assert ran["attributes"] <= seconds + 1
    assert perception.tracker.detections <= 0.25 * perception.tracker.frames


def test_a_still_photo_gets_every_model_and_the_mesh(perception, portraits):
    percepts, how = perception.still(portraits["astronaut.png"])
    assert how == "direct" and len(percepts) == 1
    p = percepts[0]
    assert {"expression", "mask", "eyewear", "skin_tone"} <= set(p.probs) and p.measure is not None
    assert np.isclose(p.probs["expression"].sum(), 1.0, atol=1e-4)
