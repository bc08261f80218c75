"""Live-motion signals on real portraits, painted and rotated ones, and the filter and baseline on
synthetic signals with known shape."""
from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import pytest

from edge.perceive.detect import detect_still
from edge.perceive.landmarks import FaceMesh
from edge.perceive.motion import PRIOR, Baseline, Measure, MotionTrack, OneEuro, measure, to_motion
from edge.state import Motion
from conftest import PORTRAIT_FACES
from fakes import face_from_truth


@pytest.fixture(scope="module")
def mesh() -> FaceMesh:
    return FaceMesh(threads=1)


def signals(mesh, detector, image) -> Motion | None:
    """The whole still path: detector, mesh, signals against the population prior."""
    faces, _ = detect_still(detector, image)
    if not faces:
        return None
    lm = mesh(image, faces[0])
    return to_motion(measure(lm.points, image)) if lm is not None else None


def paint_eyes(image: np.ndarray, name: str, which: tuple[int, ...] = (0, 1)) -> np.ndarray:
    """Each chosen eye (0 = the person's right, at the image's left) painted over with the skin
    just below it - what a closed eye is to the pixels, with no lid line to help."""
    out = image.copy()
    w = PORTRAIT_FACES[name]["box"][2]
    for i in which:
        x, y = PORTRAIT_FACES[name]["eyes"][i]
        skin = np.median(image[int(y + 0.2 * w):int(y + 0.28 * w), int(x - 0.05 * w):int(x + 0.05 * w)].reshape(-1, 3), 0)
        cv2.ellipse(out, (x, y), (int(0.16 * w), int(0.09 * w)), 0, 0, 360, tuple(float(c) for c in skin), -1)
    return out


def assert_bounded(m: Motion) -> None:
    values = dataclasses.asdict(m)
    assert all(math.isfinite(v) for v in values.values()), values
    assert 0 <= m.eye_open_left <= 1.5 and 0 <= m.eye_open_right <= 1.5 and 0 <= m.mouth_open <= 1
    assert all(-1 <= values[k] <= 1 for k in ("mouth_width", "smile", "brow_raise"))
    assert all(-90 <= values[k] <= 90 for k in ("roll_deg", "yaw_deg", "pitch_deg"))


@pytest.mark.parametrize("name", sorted(PORTRAIT_FACES))
def test_portraits_read_eyes_open_and_mouth_closed(mesh, detector, portraits, name):
    m = signals(mesh, detector, portraits[name])
    assert m is not None
    assert_bounded(m)
    assert m.eye_open_left > 0.7 and m.eye_open_right > 0.7, m
    assert m.mouth_open < 0.25, m  # the astronaut smiles with her teeth showing: lips parted, not open


@pytest.mark.parametrize("name", sorted(PORTRAIT_FACES))
def test_eyes_painted_over_with_skin_read_closed(mesh, detector, portraits, name):
    m = signals(mesh, detector, paint_eyes(portraits[name], name))
    assert m is not None
    assert m.eye_open_left < 0.3 and m.eye_open_right < 0.3, m


def test_a_wink_closes_only_that_eye(mesh, detector, portraits):
    """The person's right eye (at the left of the image) painted over: only eye_open_right drops."""
    name = "grace_hopper.jpg"
    m = signals(mesh, detector, paint_eyes(portraits[name], name, which=(0,)))
    assert m.eye_open_right < 0.3 and m.eye_open_left > 0.7, m


@pytest.mark.parametrize("name", sorted(PORTRAIT_FACES))
def test_in_plane_rotation_of_15_degrees_reads_as_15_degrees_of_roll(mesh, detector, portraits, name):
    img = portraits[name]
    x, y, w, h = PORTRAIT_FACES[name]["box"]
    before = signals(mesh, detector, img)
    # cv2 turns positive angles counter-clockwise on the image: the person's head tips toward
    # their own right shoulder (the image's left), which is positive roll
    rot = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), 15, 1.0)
    after = signals(mesh, detector, cv2.warpAffine(img, rot, img.shape[1::-1], borderMode=cv2.BORDER_REFLECT101))
    assert abs((after.roll_deg - before.roll_deg) - 15) <= 3, (before.roll_deg, after.roll_deg)


def test_mirror_image_flips_roll_and_yaw(mesh, detector, portraits):
    img = portraits["grace_hopper.jpg"]
    a, b = signals(mesh, detector, img), signals(mesh, detector, img[:, ::-1].copy())
    assert abs(a.roll_deg + b.roll_deg) < 2 and abs(a.yaw_deg + b.yaw_deg) < 3, (a, b)


def test_signals_stay_finite_and_bounded_on_hard_frames(mesh, portraits):
    img = portraits["grace_hopper.jpg"]
    # a face cut by the left border: a third of it is off the frame
    cut = np.zeros_like(img)
    cut[:, : img.shape[1] - 230] = img[:, 230:]
    lm = mesh(cut, face_from_truth("grace_hopper.jpg", dx=-230))
    assert lm is not None
    m = to_motion(measure(lm.points, cut))
    assert_bounded(m)
    assert m.eye_open_left > 0.5  # the eye still in the picture reads open
    # a tiny face (20 px) and an empty frame: no mesh at all rather than made-up signals
    tiny = cv2.resize(img, None, fx=0.1, fy=0.1, interpolation=cv2.INTER_AREA)
    lm_tiny = mesh(tiny, face_from_truth("grace_hopper.jpg", scale=0.1))
    assert lm_tiny is None or np.isfinite(lm_tiny.points).all()
    if lm_tiny is not None:
        assert_bounded(to_motion(measure(lm_tiny.points, tiny)))
    # degenerate geometry (all points in one spot) is still bounded
    assert_bounded(to_motion(measure(np.full((468, 3), 5.0), img)))


def test_one_euro_keeps_a_blink_and_calms_jitter():
    rng = np.random.default_rng(0)
    fps = 30.0
    t = np.arange(90) / fps
    blink = np.where((t >= 1.0) & (t < 1.12), 0.0, 1.0)  # a 120 ms blink: 4 frames closed
    noisy = blink + rng.normal(0, 0.04, len(t))
    f = OneEuro(1.5, 0.6)
    out = np.array([f(v, ti) for v, ti in zip(noisy, t)])
    assert out[(t >= 1.0) & (t < 1.2)].min() < 0.3  # the blink shows (snapped to "closed" on screen)
    still = out[t < 0.95][10:]
    assert still.std() < 0.5 * noisy[t < 0.95][10:].std()
    # a plain moving average of the same length as the blink would not reach closed
    avg = np.convolve(noisy, np.ones(8) / 8, mode="same")
    assert avg[(t >= 1.0) & (t < 1.2)].min() > 0.3


def rest_measure(**kw) -> Measure:
    base = dict(eye_ratio_r=PRIOR.eye_ratio, eye_ratio_l=PRIOR.eye_ratio, eye_dark_r=0.7, eye_dark_l=0.7,
                mouth_gap=PRIOR.mouth_gap, mouth_width=PRIOR.mouth_width, smile=PRIOR.smile, brow=PRIOR.brow,
                roll_deg=0.0, yaw_deg=0.0, pitch_deg=PRIOR.pitch_deg)
    return Measure(**{**base, **kw})


def test_baseline_learns_narrow_eyes_at_rest_but_not_a_held_smile():
    narrow = rest_measure(eye_ratio_r=0.19, eye_ratio_l=0.19, smile=PRIOR.smile + 0.08)
    assert to_motion(narrow).eye_open_left < 0.8  # against the population: half-shut
    track = MotionTrack()
    for i in range(60):  # 2 s at 30 fps
        m = track.update(narrow, i / 30)
    assert m.eye_open_left > 0.9 and m.eye_open_right > 0.9  # against themselves: open
    assert m.smile > 0.3  # a held smile is not swallowed by the baseline


def test_baseline_ignores_blinks_and_talking():
    b = Baseline()
    for i in range(100):
        blinking = i % 10 == 0
        talking = i % 3 == 0
        b.add(rest_measure(eye_ratio_r=0.05 if blinking else 0.27, eye_ratio_l=0.05 if blinking else 0.27,
                           mouth_gap=0.3 if talking else 0.02), i * 0.1)
    assert abs(b.rest.eye_ratio - 0.27) < 0.01 and b.rest.mouth_gap < 0.05


def test_a_closed_eye_reads_closed_through_the_whole_track():
    """The live path: a wink held for 300 ms reaches the screen's closed level on that side only."""
    track = MotionTrack()
    for i in range(30):
        track.update(rest_measure(), i / 30)
    for i in range(30, 40):
        m = track.update(rest_measure(eye_ratio_r=0.06, eye_dark_r=0.02), i / 30)
    assert m.eye_open_right < 0.25 and m.eye_open_left > 0.9


def test_extreme_measures_are_clipped():
    wild = rest_measure(mouth_gap=50.0, mouth_width=-3.0, smile=9.0, brow=-7.0, roll_deg=400.0, eye_ratio_l=9.0)
    m = to_motion(wild)
    assert_bounded(m)
    assert m.mouth_open == 1.0 and m.smile == 1.0 and m.brow_raise == -1.0 and m.roll_deg == 90.0
