"""The expression read with the blendshapes (edge/perceive/fusion.py, training/fusion.py, training/blendshape_features.py):
the features come from a FER+-sized face through the edge's own mesh, the fusion keeps the gate's promise, the
perception pass applies it only where a face has blendshapes this frame, and a fusion chosen with another
expression model is refused in one line."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.perceive.blendshapes import NAMES
from edge.perceive.fusion import FILE, NAME, Fusion, ShapeHead, load_fusion
from edge.model_files import MODELS_DIR, manifest_model, read_manifest, sha256_file
from conftest import PORTRAIT_FACES
from fakes import open_mouth
from training.blendshape_features import Frames, Reader

CLASSES = ("angry", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")
JAW = NAMES.index("jawOpen")


def fer_like(image: np.ndarray, name: str) -> np.ndarray:
    """The portrait's face the way FER2013 stores faces: a tight square, 48x48 grey."""
    x, y, w, h = PORTRAIT_FACES[name]["box"]
    side = int(1.3 * max(w, h))  # the chin in the picture, as FER2013 mostly has it
    cx, cy = x + w // 2, y + h // 2 + h // 12
    crop = image[cy - side // 2: cy + side // 2, cx - side // 2: cx + side // 2]
    return cv2.resize(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), (48, 48), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader()


def test_a_48px_face_pasted_upscaled_is_read_by_the_mesh_and_its_opened_mouth_raises_jaw_open(reader, portraits, detector):
    from edge.perceive.landmarks import FaceMesh

    image = portraits["grace_hopper.jpg"]
    points = FaceMesh(points="478")(image, detector.detect(image)[0]).points
    gap = np.linalg.norm(points[33, :2] - points[263, :2])
    frames = Frames(seed=0)
    read = {}
    for what, img in (("rest", image), ("open", open_mouth(image, points, 0.45 * gap))):
        face, presence, shapes = reader.read(frames.frame_for(fer_like(img, "grace_hopper.jpg"), "val", 7))
        assert face is not None and presence >= 0.5 and shapes is not None, what
        read[what] = shapes
    assert read["open"][JAW] > read["rest"][JAW] + 0.2, (read["rest"][JAW], read["open"][JAW])


def test_frames_are_a_function_of_the_face_index_so_the_fusion_tool_rebuilds_them():
    face = np.random.default_rng(1).integers(0, 255, (48, 48), dtype=np.uint8)
    a, b = Frames(seed=0), Frames(seed=0)
    assert np.array_equal(a.frame_for(face, "val", 3), b.frame_for(face, "val", 3))
    assert not np.array_equal(a.frame_for(face, "val", 3), a.frame_for(face, "val", 4))
    assert not np.array_equal(a.frame_for(face, "val", 3), a.frame_for(face, "test", 3))


def toy_fusion(alpha: float, sha: str = "0" * 64, classes: tuple[str, ...] = CLASSES) -> Fusion:
    """A head that reads jawOpen as surprise and mouthSmileLeft as happy, nothing else."""
    w = np.zeros((len(classes), len(NAMES)))
    w[classes.index("surprise"), JAW] = 4.0
    w[classes.index("happy"), NAMES.index("mouthSmileLeft")] = 4.0
    return Fusion(ShapeHead(classes, w, np.zeros(len(classes)), np.zeros(len(NAMES)), np.ones(len(NAMES))), alpha, sha)


def test_the_fusion_weighs_both_answers_and_never_shows_a_gated_class():
    shapes = np.zeros(len(NAMES))
    shapes[JAW] = 1.0  # the mouth wide open
    p = np.full(len(CLASSES), 0.1)
    p[CLASSES.index("neutral")], p[CLASSES.index("contempt")] = 0.4, 0.0  # contempt held back by its gate
    p /= p.sum()
    assert np.allclose(toy_fusion(1.0)(p, shapes), p, atol=1e-6)  # alpha 1: the expression model alone
    assert CLASSES[int(np.argmax(toy_fusion(0.3)(p, shapes)))] == "surprise"
    assert CLASSES[int(np.argmax(toy_fusion(0.3)(p, np.zeros(len(NAMES)))))] == "neutral"
    fused = toy_fusion(0.0)(np.stack([p, p]), np.stack([shapes, shapes]))
    assert fused.shape == (2, len(CLASSES)) and np.allclose(fused.sum(1), 1.0, atol=1e-5)
    assert np.all(fused[:, CLASSES.index("contempt")] == 0.0)


def models_with_fusion(tmp_path: Path, fusion: Fusion, **entry) -> Path:
    """A models folder: the committed manifest's expression entry plus this fusion (`entry`: more of
    the fusion's manifest entry)."""
    shutil.copy(MODELS_DIR / "manifest.json", tmp_path / "manifest.json")
    (tmp_path / FILE).write_text(json.dumps(fusion.to_json()))
    manifest = read_manifest(tmp_path)
    manifest[NAME] = {"file": FILE, "sha256": sha256_file(tmp_path / FILE), **entry}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def test_a_fusion_chosen_with_another_expression_model_is_refused_in_one_line(tmp_path, caplog):
    entry = read_manifest(MODELS_DIR)["expression"]
    classes = tuple(entry["classes"])
    with caplog.at_level(logging.WARNING, logger="edge.perceive.fusion"):
        assert load_fusion(models_with_fusion(tmp_path, toy_fusion(0.5, "f" * 64, classes))) is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0] and "refit" in warnings[0], warnings
    caplog.clear()
    matched = load_fusion(models_with_fusion(tmp_path, toy_fusion(0.5, entry["sha256"], classes)))
    assert matched is not None and matched.classes == classes and not caplog.records


def test_a_fusion_chosen_with_the_model_fed_another_way_is_refused(tmp_path):
    """The same expression file fed another transform answers differently (session 13 changed what the
    edge feeds it), so a fusion records the transform it was chosen with."""
    entry = read_manifest(MODELS_DIR)["expression"]
    fusion = toy_fusion(0.5, entry["sha256"], tuple(entry["classes"]))
    assert load_fusion(models_with_fusion(tmp_path, fusion, expression_preprocess="equalizeHist(clip(1.2*x))")) is None
    assert load_fusion(models_with_fusion(tmp_path, fusion, expression_preprocess=entry["input"]["preprocess"])) is not None


def test_the_perception_pass_fuses_only_where_the_face_has_blendshapes_this_frame(portraits):
    from edge.perceive.blendshapes import Blendshapes
    from edge.perceive.classify import ClassifierSet
    from edge.perceive.detect import BlazeFaceDetector
    from edge.perceive.landmarks import FaceMesh
    from edge.perceive.perception import Perception

    classes = tuple(read_manifest(MODELS_DIR)["expression"]["classes"])
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    toy = toy_fusion(0.0, classes=classes)

    def spy(p_expression: np.ndarray, shapes: np.ndarray) -> np.ndarray:
        seen.append((p_expression, shapes))
        return toy(p_expression, shapes)

    perception = Perception(BlazeFaceDetector("short", 1), ClassifierSet(views=1), FaceMesh(),
                            blendshapes=Blendshapes(), fine_mesh=FaceMesh(points="478"), fine_faces=1, fusion=spy)
    image = portraits["astronaut.png"]
    ran = 0
    for i in range(6):  # the expression runs on new faces, then every 0.1 s
        percepts = perception.live(image, i / 30)
        p = percepts[0]
        assert p.shapes is not None
        if "expression" in p.probs:
            ran += 1
            assert classes[int(np.argmax(p.probs["expression"]))] == "happy"  # the toy head reads the smile
    assert ran == len(seen) >= 1


def test_the_committed_head_reads_the_astronauts_smile_as_happy_and_hopper_as_not(portraits, detector):
    """The committed fusion file (whatever expression model it was chosen with): its blendshape head on the
    demo portraits through the edge mesh, alone and fused with an expression answer that has no opinion."""
    from edge.perceive.blendshapes import Blendshapes
    from edge.perceive.landmarks import FaceMesh

    fusion = Fusion.from_json(json.loads((MODELS_DIR / FILE).read_text()))
    mesh, blendshapes = FaceMesh(points="478"), Blendshapes()
    said = {}
    for name in ("astronaut.png", "grace_hopper.jpg"):
        image = portraits[name]
        shapes = blendshapes.scores(mesh(image, detector.detect(image)[0]).points)
        uniform = np.full(len(fusion.classes), 1 / len(fusion.classes))
        said[name] = (fusion.classes[int(np.argmax(fusion.head.probs(shapes)))],
                      fusion.classes[int(np.argmax(fusion(uniform, shapes)))])
    assert said["astronaut.png"] == ("happy", "happy"), said
    assert "happy" not in said["grace_hopper.jpg"], said


def test_the_committed_fusion_says_how_it_was_made_and_what_it_scored():
    path, entry = manifest_model(NAME, MODELS_DIR)  # checks the sha256
    fusion = Fusion.from_json(json.loads(path.read_text()))
    assert entry["expression_sha256"] == fusion.expression_sha256 and entry["alpha"] == fusion.alpha
    assert "expression-fusion" in entry["training"]["command"]
    val = entry["metrics"]["val"]
    assert val["fused"]["balanced_accuracy"] >= val["alone"]["balanced_accuracy"] + 0.005  # the rule it shipped by


def test_alpha_is_chosen_among_those_that_keep_plain_accuracy():
    """The session-10 refit chose the alpha with the best balanced accuracy, which bought 13 contempt
    faces with 2 points of accuracy; now an alpha that costs more than half a point is not a candidate."""
    from training.fusion import Scores, choose_alpha

    def s(acc, bal):
        return Scores(acc, bal, {}, 100)

    alone = s(0.85, 0.688)
    curve = {0.6: s(0.83, 0.702), 0.85: s(0.848, 0.697), 0.9: s(0.851, 0.690), 1.0: alone}
    alpha, allowed = choose_alpha(curve, alone)
    assert alpha == 0.85 and allowed == [0.85, 0.9, 1.0]
    assert choose_alpha({0.5: s(0.80, 0.75), 1.0: alone}, alone)[0] == 1.0
