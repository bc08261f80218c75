"""Same face, same emoticon: the consistency check on the demo portraits, and its parts."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import DEMO
from edge.commands import consistency as cons
from edge.perceive.classify import ClassifierSet
from edge.perceive.detect import TiledDetector
from edge.perceive.perception import Perception
from edge.perceive.skin_tone import SkinToneMeter
from fakes import assert_one_line_error, cli

# The command's own grid (5 sizes x 3 places x 5 lights x mirrored = 150 per face, ~10 s), so these
# tests assert the figures `emoticon-mirror consistency` reports. A smaller grid (60 variants) leaves
# 30 mirror pairs a face, where one pair is 0.033 and a 0.98 target allows none.
GRID = cons.Grid()


@pytest.fixture(scope="module")
def classifiers():
    return ClassifierSet(num_threads=1)


@pytest.fixture(scope="module")
def report(detector, classifiers, portraits):
    from edge.perceive.landmarks import FaceMesh

    perceive = cons.live_perceiver(Perception(TiledDetector(detector), classifiers, FaceMesh(1)))
    classes = {h: classifiers.classes(h) for h in classifiers.heads}
    faces = {}
    for name, image in portraits.items():
        face = cons.source_face(detector, image)
        faces[name] = cons.summarize(cons.run_variants(image, face, perceive, classifiers, GRID), classes)
    return faces, cons.overall(faces)


def test_the_demo_faces_are_found_in_every_variant(report):
    faces, _ = report
    for name, r in faces.items():
        assert r["variants"] == 150, name
        assert r["found"] >= 0.95, name


def test_mask_and_eyewear_hold_their_targets_on_the_demo(report):
    _, total = report
    heads = total["heads"]
    assert heads["mask"]["mean"] >= cons.TARGETS["mask"], heads["mask"]
    assert heads["eyewear"]["mean"] >= cons.TARGETS["eyewear"], heads["eyewear"]


def test_the_demo_skin_tones_are_steady(report):
    """Where only the framing changes (size, place, mirror) both demo faces keep one tone (the
    astronaut 1.00, Grace Hopper 0.97 on the command's grid). Exposure is no longer read out of the
    room, so x0.7 and x1.3 move a face a band (the astronaut: medium_light -> medium at x0.7 in 29 of
    30 variants, medium_dark in one; light at x1.3)."""
    faces, total = report
    astronaut, grace = (faces[n]["heads"]["skin_tone"] for n in ("astronaut.png", "grace_hopper.jpg"))
    assert astronaut["agreement"] >= cons.TARGETS["skin_tone"], astronaut
    assert grace["agreement"] >= cons.TARGETS["skin_tone"], grace
    assert grace["band_spread"] <= cons.SKIN_MAX_BANDS and astronaut["band_spread"] <= 2, (astronaut, grace)
    assert faces["astronaut.png"]["mirror"]["skin_tone"] >= 0.95, faces["astronaut.png"]["mirror"]
    assert faces["grace_hopper.jpg"]["mirror"]["skin_tone"] >= 0.95, faces["grace_hopper.jpg"]["mirror"]


def test_a_mirrored_frame_gets_the_same_mask_and_eyewear(report):
    """The mirror target as `overall` defines it (a mean over the faces), per head; and no face loses
    more than one mirror pair in 20. Grace Hopper's mask is 0.973 here with the cycle-3 model and the
    live-cut one alike: two pairs at 60 px."""
    faces, _ = report
    for head in ("mask", "eyewear"):
        per_face = {name: r["mirror"][head] for name, r in faces.items()}
        assert np.mean(list(per_face.values())) >= cons.MIRROR_TARGET, (head, per_face)
        assert min(per_face.values()) >= 0.95, (head, per_face)


def test_the_classes_come_from_the_classifiers(report, classifiers):
    from edge.perceive.labels import PLAIN_NAME

    """The lead swaps the expression model (and its list of expressions): nothing here may assume 7."""
    faces, _ = report
    for r in faces.values():
        for head, hr in r["heads"].items():
            assert set(hr["counts"]) <= set(classifiers.classes(head)) | {cons.NO_ANSWER, PLAIN_NAME}


def test_a_pasted_face_has_the_asked_size_and_place(detector, portraits):
    image = portraits["grace_hopper.jpg"]
    region, fw = cons.surroundings(image, cons.source_face(detector, image))
    for size, centre in ((90, (150.0, 300.0)), (250, (400.0, 220.0))):
        frame = cons.place(region, fw, size, centre, cons.LIGHTS["x1.0"])
        assert frame.shape[:2] == cons.FRAME_HW
        box = detector.detect(frame)[0].box
        assert abs(box[2] - size) < 0.15 * size
        assert abs(box[0] + box[2] / 2 - centre[0]) < 0.1 * size
        assert abs(box[1] + box[3] / 2 - centre[1]) < 0.15 * size


def test_summary_counts_agreement_score_change_and_mirror():
    classes = {"mask": ["mask", "no_mask"], "skin_tone": ["light", "medium_light", "medium", "medium_dark", "dark"]}

    def variant(light: str, mirrored: bool, mask: float, tone: str | None) -> cons.Variant:
        scores = {"mask": {"mask": mask, "no_mask": 1 - mask}}
        if tone:
            scores["skin_tone"] = {t: float(t == tone) for t in classes["skin_tone"]}
        return cons.Variant(90, 0, light, mirrored, {}, scores)

    vs = [variant("x1.0", False, 0.9, "light"), variant("x1.0", True, 0.8, "light"),
          variant("warm", False, 0.3, "medium"), variant("warm", True, 0.7, None),
          cons.Variant(90, 1, "x1.0", False, None)]
    r = cons.summarize(vs, classes)
    assert r["found"] == 0.8
    assert r["heads"]["mask"]["agreement"] == 0.75 and r["heads"]["mask"]["majority"] == "mask"
    assert r["heads"]["mask"]["max_score_change"] == pytest.approx(0.6)
    # the skin tone's steadiness is judged in the plain light only; any light may move it a band
    assert r["heads"]["skin_tone"]["counts"] == {"light": 2} and r["heads"]["skin_tone"]["agreement"] == 1.0
    assert r["heads"]["skin_tone"]["band_spread"] == 2
    assert r["mirror"] == {"mask": 0.5, "skin_tone": 0.5}


def test_a_second_face_does_not_change_the_first_ones_skin_tone(detector, portraits):
    """The light a face is measured under comes from its own surroundings, not from the frame."""
    image = portraits["astronaut.png"]
    region, fw = cons.surroundings(image, cons.source_face(detector, image))
    alone = cons.place(region, fw, 120, (160.0, 240.0), cons.LIGHTS["x1.0"])
    other = cv2.resize(cv2.imread(str(DEMO / "grace_hopper.jpg")), (300, 360), interpolation=cv2.INTER_AREA)
    pair = alone.copy()
    pair[60:420, 330:630] = other
    meter = SkinToneMeter()
    itas = []
    for frame in (alone, pair):
        faces = detector.detect(frame)
        meter.begin_frame(frame, faces)
        first = min(faces, key=lambda f: abs(f.box[0] + f.box[2] / 2 - 160))
        itas.append(meter.read(meter.cut(frame, first)))
    assert None not in itas and abs(itas[0] - itas[1]) < 1.0


def test_consistency_command_reports_and_fails_on_bad_input(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    r = cli("consistency", str(bad))
    assert_one_line_error(r, 1, "broken.jpg")
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), np.full((240, 320, 3), 128, np.uint8))
    r = cli("consistency", str(grey))
    assert_one_line_error(r, 1, "grey.png", "no face found")


def test_the_demo_expressions_hold_wherever_the_face_sits(report):
    """Issue #17/#23: each demo portrait gets one expression at every place, size, light and mirrored
    (the 7-class model: Grace Hopper 0.49, neutral, angry, fear and sad), Hopper neutral, the astronaut happy."""
    faces, total = report
    assert faces["astronaut.png"]["heads"]["expression"]["majority"] == "happy"
    assert faces["grace_hopper.jpg"]["heads"]["expression"]["majority"] == "neutral"
    for name, r in faces.items():
        assert r["heads"]["expression"]["agreement"] >= cons.TARGETS["expression"], (name, r["heads"]["expression"])
