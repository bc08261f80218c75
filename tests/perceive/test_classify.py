"""The committed classifiers: manifest matches the files, inputs are what the manifest says, and the
expression model really scores on FER2013 test faces it never selected on."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from conftest import REPO
from edge.perceive.classify import KNOWN_MODELS, Classifier, ClassifierSet
from edge.model_files import manifest_model, read_manifest
from edge.runtime import ModelError
from edge.state import EXPRESSIONS

MODELS = REPO / "models_tflite"
MANIFEST = read_manifest(MODELS)
REQUIRED_INPUT = {"size", "color", "pixel_scale", "pixel_offset", "preprocess", "layout", "crop"}


def test_expression_model_is_committed_with_its_manifest_entry():
    assert "expression" in MANIFEST, "models_tflite/manifest.json has no expression entry"


@pytest.mark.parametrize("name", sorted(n for n in MANIFEST if n in KNOWN_MODELS))
def test_manifest_entry_matches_its_file(name):
    entry = MANIFEST[name]
    data = (MODELS / entry["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert len(data) == entry["bytes"]
    assert REQUIRED_INPUT <= set(entry["input"])
    for variant in ("float", "int8"):
        for split in ("val", "test"):
            assert entry["metrics"][variant][split]
    assert {"command", "data_fingerprint", "wall_seconds", "date"} <= set(entry["training"])
    clf = Classifier(name, entry, MODELS)
    assert clf.model.inputs[0].dtype == np.int8 and all(o.dtype == np.int8 for o in clf.model.outputs)


@pytest.mark.parametrize("name", sorted(n for n in MANIFEST if n not in KNOWN_MODELS and n != "expression_fusion"))  # ours: test_fusion
def test_committed_third_party_models_say_where_they_come_from(name):
    entry = MANIFEST[name]
    path, stored = manifest_model(name, MODELS)
    assert stored is not None and path.stat().st_size == entry["bytes"]
    assert "Apache-2.0" in entry["licence"] and "MediaPipe" in entry["origin"]


def test_expression_classes_and_size():
    entry = MANIFEST["expression"]
    assert set(entry["classes"]) <= set(EXPRESSIONS)  # every class the model can answer is drawn
    assert entry["bytes"] <= 2.0e6
    # trained on T = equalizeHist(clip(1.2 x)), served without the boost (see the test below)
    assert entry["training"]["preprocess"] == "equalizeHist(clip(1.2*x))"
    assert entry["input"]["preprocess"] == "equalizeHist(x)"


@pytest.mark.parametrize("name", ["astronaut.png", "grace_hopper.jpg"])
def test_an_over_exposed_face_keeps_its_expression(portraits, detector, name):
    """A face lit 1.7x brighter, clipped as a camera clips it: T's 1.2 boost turned the
    cheeks and teeth white before equalizing (the astronaut read neutral, Grace Hopper happy); the
    transform the edge serves the model with does not boost, and both keep their answer."""
    clf = Classifier("expression", MANIFEST["expression"], MODELS, views=2)
    image = portraits[name]
    face = detector.detect(image)[0]
    lit = np.clip(image.astype(np.float32) * 1.7, 0, 255).astype(np.uint8)
    plain, bright = (int(np.argmax(clf.probabilities(clf.crop(im, face))["expression"])) for im in (image, lit))
    assert bright == plain, (clf.heads[0].classes[plain], clf.heads[0].classes[bright])


def test_a_manifest_that_does_not_match_its_model_is_refused(tmp_path):
    entry = json.loads(json.dumps(MANIFEST["expression"]))
    (tmp_path / entry["file"]).write_bytes((MODELS / entry["file"]).read_bytes())
    wrong_size = {**entry, "input": {**entry["input"], "size": [64, 64]}}
    with pytest.raises(ModelError, match="input shape"):
        Classifier("expression", wrong_size, tmp_path)
    wrong_classes = {**entry, "classes": ["a", "b"], "outputs": None}
    with pytest.raises(ModelError, match="classes"):
        Classifier("expression", wrong_classes, tmp_path)


def test_portraits_get_a_score_for_every_expression(detector, portraits):
    cs = ClassifierSet(MODELS, views=4)
    image = portraits["astronaut.png"]
    face = detector.detect(image)[0]
    cs.begin_frame(image, [face])
    probs = cs.classify(cs.crops(image, face))
    classes = MANIFEST["expression"]["classes"]
    assert probs["expression"].shape == (len(classes),) and abs(probs["expression"].sum() - 1) < 1e-4
    # she is smiling broadly in the portrait
    assert classes[int(np.argmax(probs["expression"]))] == "happy"


def test_a_gated_class_is_never_the_answer_below_its_confidence(detector, portraits):
    image = portraits["astronaut.png"]
    face = detector.detect(image)[0]
    entry = MANIFEST["expression"]
    plain = Classifier("expression", {**entry, "min_confidence": None}, MODELS)
    p = plain.probabilities(plain.crop(image, face), gate=False)["expression"]
    happy = entry["classes"].index("happy")
    assert p.argmax() == happy
    gated = Classifier("expression", {**entry, "min_confidence": {"expression": {"happy": float(p[happy]) + 0.01}}},
                       MODELS)
    q = gated.probabilities(gated.crop(image, face))["expression"]
    assert q[happy] == 0 and q.argmax() != happy and abs(q.sum() - 1) < 1e-6
    # the rest keep their proportions (their own sum, not 1 - p[happy]: that loses float32's digits when
    # happy is near 1, and the two views' average differs from a single softmax there)
    rest = np.where(np.arange(len(p)) == happy, 0, p)
    np.testing.assert_allclose(q / q.sum(), rest / rest.sum(), atol=5e-4)
    with pytest.raises(ModelError, match="min_confidence"):
        Classifier("expression", {**entry, "min_confidence": {"expression": {"smug": 0.5}}}, MODELS)


def test_a_preprocessed_crop_skips_the_manifest_preprocess(portraits, detector):
    """Training stores edge crops after T; scoring them must not apply T twice. (Grace Hopper: the
    FER+ model is so sure the astronaut is happy that T twice cannot move her answer.)"""
    clf = Classifier("expression", MANIFEST["expression"], MODELS, views=4)
    image = portraits["grace_hopper.jpg"]
    crop = clf.crop(image, detector.detect(image)[0])
    once = clf.probabilities(crop)["expression"]
    np.testing.assert_allclose(clf.probabilities(clf.preprocess(crop), preprocessed=True)["expression"], once)
    twice = clf.probabilities(clf.preprocess(crop))["expression"]  # T applied on top of T
    assert np.abs(twice - once).max() > 1e-3
