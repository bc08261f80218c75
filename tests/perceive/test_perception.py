"""The one perception pass: schedules per face, and the live pass on the demo against still photos."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edge.perceive.classify import ClassifierSet
from edge.config import SourceConfig
from edge.perceive.detect import BlazeFaceDetector, TiledDetector
from edge.perceive.landmarks import FaceMesh
from edge.perceive.perception import EXPRESSION_PER_FRAME, MotionPlan, Perception, due
from edge.perceive.person import People
from edge.sources.demo import DemoSource
from conftest import head_crop


class Schedule:
    """The models' schedule over the records of people by id, as the live pass keeps it."""

    def __init__(self):
        self.people = People()

    def due(self, ids: list[int], now: float) -> dict[int, set[str]]:
        return due([self.people[i] for i in ids], now)


def test_new_faces_run_everything_then_each_model_keeps_its_own_pace():
    s = Schedule()
    assert s.due([1], 0.0) == {1: {"expression", "attributes"}}
    assert s.due([1], 0.05) == {1: set()}
    assert s.due([1], 0.1) == {1: {"expression"}}
    assert s.due([1], 1.0)[1] == {"expression", "attributes"}
    s.people.keep([])  # forgotten by the tracker: found again, everything runs at once
    assert s.due([1], 1.05) == {1: {"expression", "attributes"}}


@pytest.mark.parametrize("clock", [0.0, 1234.567, 6543.21, 98765.4321])
def test_at_30_fps_the_expression_runs_on_every_third_frame_whatever_the_clock_reads(clock):
    """A camera's stamps (here exactly 1/30 s apart, added to a clock that has run for a while) come out
    a hair short of 0.1 s between three frames as often as not; the schedule must not then wait a
    fourth frame: the cadence would depend on how long the machine had been up."""
    s = Schedule()
    runs = [f for f in range(90) if "expression" in s.due([1], clock + f / 30)[1]]
    assert runs == list(range(0, 90, 3)), runs


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


def test_only_the_faces_that_move_are_measured(portraits):
    """With motion off (or shed) the mesh still tracks every face, but no face gets motion signals; with
    one moving face, only the largest; None: all."""
    perception = Perception(BlazeFaceDetector("short", 1), ClassifierSet(views=1), FaceMesh())
    pair = np.full((480, 640, 3), 100, np.uint8)
    for name, (x, y, side) in (("astronaut.png", (20, 60, 300)), ("grace_hopper.jpg", (400, 140, 200))):
        pair[y:y + side, x:x + side] = head_crop(perception.detector, portraits[name], side)
    for t, n in enumerate((0, 1, None)):
        percepts = perception.live(pair, t / 30, MotionPlan(measured=n))
        assert len(percepts) == 2 and all(p.landmarks is not None for p in percepts)
        assert [p.measure is not None for p in percepts] == {0: [False, False], 1: [True, False], None: [True, True]}[n]


def test_a_group_reads_expressions_with_fewer_views(portraits):
    """Three or more faces share the frame: the expression runs with the group's views, and with all
    of them again once one or two are left."""
    classifiers = ClassifierSet(views=4)
    perception = Perception(BlazeFaceDetector("short", 1), classifiers, FaceMesh(), views=(4, 2))
    expression = next(c for c in classifiers.classifiers if c.name == "expression")
    head = head_crop(perception.detector, portraits["astronaut.png"], 210)
    group = np.full((480, 640, 3), 100, np.uint8)
    for x, y in ((40, 15), (360, 15), (40, 255), (360, 255)):
        group[y:y + 210, x:x + 210] = head
    assert len(perception.live(group, 0.0)) >= 3 and expression.views == 2
    assert len(perception.live(portraits["astronaut.png"], 1.0)) == 1 and expression.views == 4


def test_a_still_photo_gets_every_model_and_the_mesh(perception, portraits):
    percepts, how = perception.still(portraits["astronaut.png"])
    assert how == "direct" and len(percepts) == 1
    p = percepts[0]
    assert {"expression", "mask", "eyewear", "skin_tone"} <= set(p.probs) and p.measure is not None
    assert np.isclose(p.probs["expression"].sum(), 1.0, atol=1e-4)


def _shown(cfg, frames) -> list[list[tuple[float, str, object]]]:
    """Per frame, each face's (x centre, displayed expression, motion) after smoothing."""
    from edge import build
    from edge.render import Renderer
    from edge.sources.memory import MemorySource
    from fakes import NullDisplay, RecordingRenderer

    renderer = RecordingRenderer()
    renderer.inner = Renderer((320, 180))
    mirror = build.mirror(cfg, lambda: MemorySource(frames, fps=30, camera_clock=True), renderer, NullDisplay(),
                          pace=False)
    try:
        mirror.run(len(frames))
    finally:
        mirror.close()
    return [sorted((f.center_x, f.state.expression, f.motion) for f in s.faces) for s in renderer.scenes]


def test_tracking_and_schedules_find_the_people_every_frame_inference_finds():
    """The demo loop (one person, the other, both, nobody), once with faces tracked and models on
    their schedules, once detecting and classifying every frame, both on a 30 fps camera clock: the
    same people showing the same expression (issue #19: >= 97% of frames; the 7-class model reached
    77%, the FER+ model 407 of 408), moving alike: the median difference per motion signal 0.006-0.026,
    the brows' 0.0495 (the target 0.05; asserted with room: 0.055), roll, yaw and pitch 0.16-0.40 degrees
    (asserted: 0.5). Before the tracker took over the detector's turn of the eye line and followed each
    detection half way (edge/perceive/track.py calibrate, CALIB_FOLLOW), the brows differed by 0.070 and roll by
    0.46 degrees."""
    from edge.config import Config
    from edge.sources.demo import TIMELINE

    src = DemoSource(SourceConfig())
    people = sum(round(s.seconds * src.fps) for s in TIMELINE[:-1])  # without the acting segment
    frames = [src.frame_at(i) for i in range(people)]
    tracked_cfg, every_cfg = Config(), Config()
    every_cfg.detector.track_every = 1
    for cfg in (tracked_cfg, every_cfg):
        cfg.motion.mode, cfg.motion.blendshapes = "on", 0  # the same 468-point mesh on both sides
        cfg.motion.turns_when_busy = False  # meshes on every frame, however loaded this machine is
    tracked, every = _shown(tracked_cfg, frames), _shown(every_cfg, frames)
    same_people = sum(len(a) == len(b) and all(abs(x[0] - y[0]) < 0.05 for x, y in zip(a, b))
                      for a, b in zip(tracked, every))
    assert same_people >= 0.95 * len(frames), same_people
    same_expression = sum(len(a) == len(b) and all(x[1] == y[1] for x, y in zip(a, b)) for a, b in zip(tracked, every))
    assert same_expression >= 0.97 * len(frames), same_expression
    assert all(x[2] is not None for a in tracked for x in a)  # every tracked face moves
    diffs: dict[str, list[float]] = {}
    for a, b in zip(tracked, every):
        for x, y in zip(a, b) if len(a) == len(b) else ():
            if y[2] is not None:
                for f in dataclasses.fields(x[2]):
                    diffs.setdefault(f.name, []).append(abs(getattr(x[2], f.name) - getattr(y[2], f.name)))
    median = {k: float(np.median(v)) for k, v in diffs.items()}
    assert len(diffs["brow_raise"]) >= 0.95 * len(frames)
    assert all(v <= (0.5 if k.endswith("_deg") else 0.055) for k, v in median.items()), str({k: round(v, 4) for k, v in median.items()})


def test_a_face_between_its_meshes_is_fused_with_its_last_blendshapes(monkeypatch):
    """A face on turns (motion.full_rate_faces = 0) has no mesh every other frame: when its expression
    runs on such a frame it is still fused with the blendshapes, the last frame's, and never with
    another face's or with those of two frames ago."""
    from edge.perceive.landmarks import Landmarks
    from edge.perceive.perception import Percept
    from edge.state import Face

    monkeypatch.setattr("edge.perceive.perception.measure", lambda points, image: None)  # the mesh here is made up
    fused = []
    p = Perception.__new__(Perception)
    p.blendshapes, people = None, People()
    p.fusion = lambda probs, shapes: fused.append(float(shapes[0])) or probs
    face = Face(np.array([0, 0, 10, 10], np.float32), 0.9, np.zeros((6, 2), np.float32))

    def frame(meshed: dict[int, float], expression: set[int]) -> None:
        percepts = []
        for track in (1, 2):
            pc = Percept(track, face, probs={"expression": np.ones(8) / 8} if track in expression else {})
            if track in meshed:  # a mesh this frame: its blendshapes are given, as _signals would make them
                pc.landmarks, pc.shapes = Landmarks(np.zeros((478, 3)), 1.0), np.full(52, meshed[track])
            percepts.append(pc)
        p._signals(np.zeros((10, 10, 3), np.uint8), percepts, people)

    frame({1: 0.3, 2: 0.7}, expression=set())
    frame({}, expression={1, 2})  # between meshes: each with its own last blendshapes
    assert fused == [0.3, 0.7]
    frame({}, expression={1})  # two frames since: nothing to fuse with
    assert fused == [0.3, 0.7]
    frame({1: 0.5}, expression={1})
    assert fused == [0.3, 0.7, 0.5]


def test_one_frame_on_its_own_shows_the_faces_the_loop_would_follow(perception, portraits):
    """Perception.once (the consistency check): Grace Hopper 300 px wide with the flag behind her, as
    the check pastes her; the tiles also find "faces" in the flag's stars and her cap's badge, which
    the mesh does not confirm, so the loop never follows them - and neither does a frame seen alone."""
    from edge.commands import consistency as cons
    from edge.perceive.track import distinct

    image = portraits["grace_hopper.jpg"]
    region, fw = cons.surroundings(image, cons.source_face(perception.plain_detector, image))
    frame = cons.place(region, fw, 300, cons.centres(cons.Grid())[300][1], cons.LIGHTS["warm"])
    assert len(distinct(perception.detector.detect(frame, every_tile=True))) > 1  # the stars, the badge
    found = perception.once(frame)
    assert len(found) == 1 and found[0].face.box[2] > 250
