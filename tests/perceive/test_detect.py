"""BlazeFace on real portraits: one face each, in the right place, however the frame is shaped."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import PORTRAIT_FACES, box_close
from edge.perceive.detect import (MIRROR_KEYPOINTS, SPECS, BlazeFaceDetector, detect_still, letterbox, make_anchors,
                         mirror_pooled, weighted_nms)
from edge.state import Face


def test_anchor_counts_match_the_models():
    assert len(make_anchors(128, SPECS["short"].strides, 2)) == 896
    assert len(make_anchors(192, SPECS["full"].strides, 1)) == 2304


@pytest.mark.parametrize("name", sorted(PORTRAIT_FACES))
def test_one_face_per_portrait_with_box_and_eyes(detector, portraits, name):
    faces = detector.detect(portraits[name])
    ref = PORTRAIT_FACES[name]
    assert len(faces) == 1
    assert box_close(faces[0].box, ref["box"])
    size = ref["box"][2]
    for found, eye in zip(faces[0].keypoints[:2], ref["eyes"]):
        assert np.hypot(*(found - eye)) < 0.1 * size


@pytest.mark.parametrize("name", sorted(PORTRAIT_FACES))
def test_mirrored_portrait(detector, portraits, name):
    img = portraits[name][:, ::-1].copy()
    x, y, w, h = PORTRAIT_FACES[name]["box"]
    faces = detector.detect(img)
    assert len(faces) == 1
    assert box_close(faces[0].box, (img.shape[1] - x - w, y, w, h))


@pytest.mark.parametrize("name", sorted(PORTRAIT_FACES))
def test_rotated_15_degrees(detector, portraits, name):
    img = portraits[name]
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 15, 1.0)
    rotated = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT101)
    faces = detector.detect(rotated)
    assert len(faces) == 1
    bx, by, bw, bh = PORTRAIT_FACES[name]["box"]
    cx, cy = m @ np.array([bx + bw / 2, by + bh / 2, 1.0])
    found = faces[0].box
    assert np.hypot(found[0] + found[2] / 2 - cx, found[1] + found[3] / 2 - cy) < 0.1 * bw
    # the eye line turns with the head (image y points down, so a CCW rotation lifts the right eye)
    (rx, ry), (lx, ly) = faces[0].keypoints[:2]
    assert np.degrees(np.arctan2(ly - ry, lx - rx)) == pytest.approx(-15 + np.degrees(np.arctan2(
        PORTRAIT_FACES[name]["eyes"][1][1] - PORTRAIT_FACES[name]["eyes"][0][1],
        PORTRAIT_FACES[name]["eyes"][1][0] - PORTRAIT_FACES[name]["eyes"][0][0])), abs=4)


@pytest.mark.parametrize("canvas", [(600, 1100), (1100, 600), (480, 640)])
def test_letterbox_any_aspect_ratio(detector, portraits, canvas):
    """The portrait pasted into very wide and very tall frames is found at the same place."""
    img = portraits["grace_hopper.jpg"]
    ch, cw = canvas
    scale = min(ch / img.shape[0], cw / img.shape[1])
    small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((ch, cw, 3), 90, np.uint8)
    ox, oy = (cw - small.shape[1]) // 2, (ch - small.shape[0]) // 2
    frame[oy:oy + small.shape[0], ox:ox + small.shape[1]] = small
    x, y, w, h = PORTRAIT_FACES["grace_hopper.jpg"]["box"]
    faces = detector.detect(frame)
    assert len(faces) == 1
    assert box_close(faces[0].box, (ox + x * scale, oy + y * scale, w * scale, h * scale))


def test_letterbox_geometry():
    frame = np.zeros((100, 400, 3), np.uint8)
    img, lb = letterbox(frame, 128)
    assert img.shape == (128, 128, 3)
    assert lb.scale == pytest.approx(0.32) and lb.pad_x == 0 and lb.pad_y == 48


def test_no_face_in_a_blank_or_noise_frame(detector):
    assert detector.detect(np.full((480, 640, 3), 128, np.uint8)) == []
    rng = np.random.default_rng(0)
    assert detector.detect(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)) == []


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces():
    boxes = np.array([[0.1, 0.1, 0.2, 0.2], [0.11, 0.1, 0.2, 0.2], [0.6, 0.6, 0.2, 0.2]], np.float32)
    kps = np.zeros((3, 6, 2), np.float32)
    scores = np.array([0.9, 0.6, 0.8], np.float32)
    out = weighted_nms(boxes, kps, scores, 0.3)
    assert len(out) == 2
    merged_box, _, merged_score = out[0]
    assert merged_score == pytest.approx(0.9)
    assert 0.1 < merged_box[0] < 0.11  # pulled towards the weaker overlapping box


def test_full_range_model_finds_a_face_too_far_for_short_range(detector, portraits):
    full = BlazeFaceDetector("full", num_threads=1)
    frame = np.full((480, 640, 3), 100, np.uint8)
    frame[100:356, 300:556] = cv2.resize(portraits["astronaut.png"], (256, 256), interpolation=cv2.INTER_AREA)
    x, y, w, h = PORTRAIT_FACES["astronaut.png"]["box"]
    expected = (300 + x / 2, 100 + y / 2, w / 2, h / 2)  # a 47 px face
    assert detector.detect(frame) == []
    faces = full.detect(frame)
    assert len(faces) == 1 and box_close(faces[0].box, expected)


@pytest.mark.parametrize("name", sorted(PORTRAIT_FACES))
def test_still_photo_retry_finds_a_tight_crop(detector, portraits, name):
    """A passport-style crop with no context: the padded retry must find it."""
    x, y, w, h = PORTRAIT_FACES[name]["box"]
    tight = portraits[name][y + h // 10: y + h - h // 20, x + w // 12: x + w - w // 12]
    faces, how = detect_still(detector, tight)
    assert len(faces) == 1
    assert faces[0].box[2] > 0.5 * tight.shape[1]


class TorsoOnPaddedCopies:
    """The real short-range model, plus what it was seen to do on a padded copy of such a photo:
    a 0.57 box over the torso under the face (the constructed case of issue #18)."""

    def __init__(self, real, torso_box):
        self.real, self.min_score, self.torso = real, real.min_score, torso_box

    def detect(self, frame, min_score=None):
        from edge.state import Face

        faces = self.real.detect(frame, min_score)
        if min_score is not None and frame.shape[0] > PHOTO:  # a padded copy, at the retry threshold
            pad = (frame.shape[0] - PHOTO) // 2  # "padded": 0.35 on every side, centred
            box = np.float32(self.torso) + np.float32([pad, pad, 0, 0])
            faces = faces + [Face(box, 0.57, np.tile(box[:2] + box[2:] / 2, (6, 1)).astype(np.float32))]
        return faces


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory):
    from edge.commands.analyze import Analyzer
    from edge.perceive.classify import ClassifierSet
    from edge.perceive.landmarks import FaceMesh
    from edge.perceive.perception import Perception

    return Analyzer(Perception(BlazeFaceDetector("short", 1), ClassifierSet(tmp_path_factory.mktemp("none"),
                                                                            skin_tone=False),
                               FaceMesh(1), far_detector=BlazeFaceDetector("full", 1), track=False))


PHOTO = 1024


def small_face_over_a_torso(portraits) -> tuple[np.ndarray, tuple, tuple]:
    """A 1024x1024 photo: Grace Hopper's face at ~60 px low in the frame, her dark uniform below."""
    frame = np.full((PHOTO, PHOTO, 3), 120, np.uint8)
    small = cv2.resize(portraits["grace_hopper.jpg"], None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    x0, y0 = PHOTO // 2 - w // 2, 700
    frame[y0:y0 + h, x0:x0 + w] = small
    cv2.rectangle(frame, (x0 - 40, y0 + h), (x0 + w + 40, 960), (40, 40, 90), -1)
    fx, fy, fw, fh = PORTRAIT_FACES["grace_hopper.jpg"]["box"]
    face = (x0 + fx * 0.3, y0 + fy * 0.3, fw * 0.3, fh * 0.3)
    torso = (x0 - 20, min(y0 + h + 5, PHOTO - 100), 120, 90)
    return frame, face, torso


def test_still_retries_never_take_a_torso_for_a_face(analyzer, portraits):
    frame, face, torso = small_face_over_a_torso(portraits)
    analyzer.perception.detector = TorsoOnPaddedCopies(BlazeFaceDetector("short", 1), torso)
    faces, how, _ = analyzer.analyze_image(frame)
    assert how == "full_range"  # the most reliable retry comes first
    assert len(faces) == 1 and box_close(faces[0]["box"], face, 0.2)
    pad = int(PHOTO * 0.35)
    torso_face = analyzer.perception.detector.detect(np.zeros((PHOTO + 2 * pad,) * 2 + (3,), np.uint8), 0.4)[-1]
    torso_face.box -= np.float32([pad, pad, 0, 0])  # back into the photo
    assert not analyzer.perception.confirm(frame, torso_face)  # and a padded retry's torso is refused


def test_confirmation_keeps_the_tight_crops(analyzer, portraits):
    for name in sorted(PORTRAIT_FACES):
        x, y, w, h = PORTRAIT_FACES[name]["box"]
        tight = portraits[name][y + h // 10: y + h - h // 20, x + w // 12: x + w - w // 12]
        analyzer.perception.detector = BlazeFaceDetector("short", 1)
        faces, how, _ = analyzer.analyze_image(tight)
        assert len(faces) == 1 and how != "none", (name, how)


def _mirrored_keypoints(face, width: int) -> np.ndarray:
    k = face.keypoints.copy()
    k[:, 0] = width - 1 - k[:, 0]
    return k[MIRROR_KEYPOINTS]


@pytest.mark.parametrize("name", sorted(PORTRAIT_FACES))
def test_mirror_pooled_keypoints_follow_a_mirror_image(detector, portraits, name):
    """BlazeFace's eyes on a frame and on its mirror image differ by several pixels; pooled, a frame's
    keypoints are (nearly) its mirror image's, mirrored - what makes the skin patches the same."""
    from edge.commands.consistency import LIGHTS, Grid, centres, place, surroundings

    image = portraits[name]
    region, fw = surroundings(image, detector.detect(image)[0])
    frame = place(region, fw, 130, centres(Grid())[130][0], LIGHTS["x1.0"])
    mirror = cv2.flip(frame, 1)
    f, g = detector.detect(frame)[0], detector.detect(mirror)[0]
    plain = np.abs(f.keypoints[:2] - _mirrored_keypoints(g, 640)[:2]).max()
    pf, pg = mirror_pooled(detector, frame, f), mirror_pooled(detector, mirror, g)
    pooled = np.abs(pf.keypoints[:2] - _mirrored_keypoints(pg, 640)[:2]).max()
    assert plain > 4.0  # the detector's own bias, measured: 6.2 and 6.4 px
    assert pooled < 1.5 and pooled < plain / 4, (plain, pooled)
    eyes = float(np.hypot(*(pf.keypoints[1] - pf.keypoints[0])))
    assert 0.35 < eyes / pf.box[2] < 0.5  # still a face's proportions


def test_mirror_pooled_keeps_the_face_when_the_square_holds_no_face(detector):
    blank = np.full((480, 640, 3), 128, np.uint8)
    face = Face(np.array([200, 150, 120, 120], np.float32), 0.9, np.zeros((6, 2), np.float32))
    assert mirror_pooled(detector, blank, face) is face
