"""FER+ (training/ferplus.py), the expression trainer and recipe, and the eight expressions everywhere.

FER+ lives outside the repo (../shared/data/ferplus); the tests that read it skip without it, saying so.
"""
from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from edge.state import EXPRESSIONS
from training import ferplus

REPO = Path(__file__).resolve().parents[2]
needs_ferplus = pytest.mark.skipif(not ferplus.DEFAULT_NPZ.is_file(),
                                   reason=f"FER+ not found at {ferplus.DEFAULT_NPZ} (../shared/data)")
RECIPE = REPO / "training/recipes/expression.toml"


def _part(votes: list[list[int]], fer_y: list[int]) -> ferplus.FerPlus:
    n = len(votes)
    return ferplus.FerPlus(np.zeros((n, 48, 48), np.uint8), np.array(votes, np.uint8), np.array(fer_y))


def vote(**counts: int) -> list[int]:
    return [counts.get(n, 0) for n in ferplus.VOTE_NAMES]


def test_votes_are_cleaned_as_fer_plus_does() -> None:
    part = _part([vote(neutral=6, happiness=3, fear=1),  # the single fear vote is dropped
                  vote(neutral=4, sadness=4, unknown=2),  # a tie: no majority over half
                  vote(contempt=6, neutral=2, NF=2),
                  vote(unknown=8, neutral=2)],  # not an expression: dropped
                 [-1, 1, 2, 2])
    d = part.distribution
    e = EXPRESSIONS.index
    np.testing.assert_allclose(d[0, [e("neutral"), e("happy")]], [6 / 9, 3 / 9], rtol=1e-6)
    assert d[0, e("fear")] == 0
    np.testing.assert_allclose(d[2, [e("contempt"), e("neutral")]], [0.75, 0.25], rtol=1e-6)
    assert part.majority.tolist() == [e("neutral"), -1, e("contempt"), -1]
    assert part.trainable.tolist() == [True, True, True, False]


def test_targets_mix_the_votes_with_fer2013_labels() -> None:
    e = EXPRESSIONS.index
    part = _part([vote(neutral=10), vote(neutral=10), vote(unknown=10)], [-1, e("sad"), e("happy")])
    t = ferplus.targets(part, 0.75)
    assert t[0, e("neutral")] == 1.0  # no FER2013 label: the votes alone
    assert t[1, e("neutral")] == 0.75 and t[1, e("sad")] == 0.25
    assert t[2, e("happy")] == 1.0  # no usable votes: FER2013's label alone
    np.testing.assert_allclose(t.sum(1), 1.0)


def test_the_public_csv_files_give_the_same_faces_as_the_npz(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (4, 48, 48), dtype=np.uint8)
    with open(tmp_path / "fer2013.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["emotion", "pixels", "Usage"])
        for i, usage in enumerate(["Training", "Training", "PublicTest", "PrivateTest"]):
            w.writerow([i % 7, " ".join(map(str, pixels[i].ravel())), usage])
    with open(tmp_path / "fer2013new.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Usage", "Image name", *ferplus.VOTE_NAMES])
        w.writerow(["Training", "fer0000000.png", *vote(happiness=10)])
        w.writerow(["Training", "", *vote(NF=10)])  # FER+ dropped this row as not a face
        w.writerow(["PublicTest", "fer0000002.png", *vote(sadness=7, neutral=3)])
        w.writerow(["PrivateTest", "fer0000003.png", *vote(surprise=9, fear=1)])
    splits = ferplus.load(tmp_path / "fer2013new.csv")
    assert [len(splits[s].x) for s in ferplus.SPLITS] == [1, 1, 1]
    raw = ferplus.load_raw(tmp_path / "fer2013new.csv")
    np.testing.assert_array_equal(raw["test"].x[0], pixels[3])
    assert splits["val"].majority.tolist() == [EXPRESSIONS.index("sad")]
    assert splits["val"].fer_y.tolist() == [EXPRESSIONS.index("fear")]  # FER2013 label 2 = fear
    with pytest.raises(ValueError, match="fer2013.csv"):
        ferplus.load(tmp_path / "elsewhere" / "fer2013new.csv")


@pytest.fixture(scope="module")
def raw_test_split() -> ferplus.FerPlus:
    """FER+ test as the edge sees it (T not applied), read once for the tests below; they only read it."""
    return ferplus.load_raw(ferplus.DEFAULT_NPZ)["test"]


@needs_ferplus
def test_the_published_protocol_keeps_3153_test_faces(raw_test_split) -> None:
    part = raw_test_split
    assert int((part.majority >= 0).sum()) == 3153


def test_the_recipe_names_an_existing_architecture_and_real_flags() -> None:
    import argparse

    pytest.importorskip("torch")
    from training import expression
    from training.__main__ import load_recipe, shared_arguments
    from training.nets import ExpressionNet

    settings = load_recipe(RECIPE, "expression")
    ap = argparse.ArgumentParser()
    shared_arguments(ap)
    expression.add_arguments(ap)
    known = {a.dest for a in ap._actions}
    assert set(settings) <= known, set(settings) - known
    net = ExpressionNet(convs=tuple(settings["convs"]))
    assert net.head[-1].out_features == len(EXPRESSIONS)
    with pytest.raises(ValueError, match="not 'attributes'"):
        load_recipe(RECIPE, "attributes")
    assert tomllib.loads(RECIPE.read_text())["task"] == "expression"


@needs_ferplus
def test_one_epoch_on_256_faces_writes_a_model_in_the_net_it_names(tmp_path: Path) -> None:
    """The trainer end to end on a slice: the run's best.pt loads into the net its summary names, with
    the eight-way head, and scores faces. That such a checkpoint converts to full int8 and agrees with
    PyTorch is tests/convert/test_convert.py's, on a net trained long enough for argmax to mean
    something (this one-epoch net gives all 256 of its training faces the same class, so agreement would
    prove little here)."""
    torch = pytest.importorskip("torch")
    from training.__main__ import main
    from training.expression import to_input
    from training.nets import load_expression_net

    run = tmp_path / "run"
    assert main(["expression", "--limit", "256", "--epochs", "1", "--batch-size", "16", "--threads", "1",
                 "--device", "cpu", "--out", str(run), "--fresh"]) == 0
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["epochs_run"] == 1 and 0 < summary["train_faces"] <= 256, summary
    assert summary["net"] == {"convs": [2, 2, 2, 2]} and summary["best_val"]["val_ferplus_kept"] > 0, summary
    model = load_expression_net(run / "best.pt")
    assert model.head[-1].out_features == len(EXPRESSIONS) and not model.training
    with torch.no_grad():
        logits = model(to_input(np.zeros((3, 48, 48), np.uint8)))
    assert logits.shape == (3, len(EXPRESSIONS)) and bool(torch.isfinite(logits).all())


@needs_ferplus
def test_the_committed_model_scores_on_a_fixed_slice_of_fer_plus_test(raw_test_split) -> None:
    from edge.perceive.classify import Classifier, read_manifest

    models = REPO / "models_tflite"
    entry = read_manifest(models).get("expression")
    if entry is None:
        pytest.skip("no expression model committed")
    if tuple(entry["classes"]) != EXPRESSIONS:
        pytest.skip(f"the committed expression model is not a FER+ model (classes {entry['classes']})")
    clf = Classifier("expression", entry, models, 1, views=4)
    part = raw_test_split
    kept = np.flatnonzero(part.majority >= 0)[:1000]
    pred = np.array([clf.probabilities(part.x[i])["expression"].argmax() for i in kept])
    assert (pred == part.majority[kept]).mean() >= 0.82


def test_the_eight_expressions_are_one_list_everywhere() -> None:
    """edge/state.py's list is what the renderer draws and what the FER+ trainer and convert name; the
    committed model's classes are what analyze reports, and each of them is drawn."""
    from edge.perceive.classify import ClassifierSet
    from edge.model_files import read_manifest
    from edge.render.params import EXPRESSION_PARAMS
    from training.expression import ExpressionNet

    assert len(EXPRESSIONS) == 8 and "contempt" in EXPRESSIONS
    assert set(EXPRESSION_PARAMS) == set(EXPRESSIONS)
    assert ExpressionNet().head[-1].out_features == len(EXPRESSIONS)
    entry = read_manifest(REPO / "models_tflite").get("expression")
    if entry is not None:
        assert set(entry["classes"]) <= set(EXPRESSIONS)
        assert ClassifierSet(views=1, skin_tone=False).classes("expression") == list(entry["classes"])


def test_the_crowd_scored_as_a_model_on_fer2013s_labels() -> None:
    """The yardstick for issue 17's FER2013 target: where the crowd and FER2013 disagree, the crowd
    scores zero; faces without a crowd answer or a FER2013 label are left out, not counted wrong."""
    e = EXPRESSIONS.index
    part = _part([vote(happiness=8, neutral=2),  # FER2013: happy -> right
                  vote(neutral=7, sadness=3),  # FER2013: sad -> the crowd says neutral
                  vote(sadness=9, neutral=1),  # FER2013: sad -> right
                  vote(unknown=9, neutral=1),  # no crowd answer: left out
                  vote(anger=10)],  # no FER2013 label: left out
                 [e("happy"), e("sad"), e("sad"), e("angry"), -1])
    probs, fer_y = ferplus.crowd_as_model(part)
    assert len(fer_y) == 3
    recall = ferplus.fer2013_recall(fer_y, probs)
    assert recall == {"happy": 1.0, "sad": 0.5}
    assert ferplus.macro_recall_fer(fer_y, probs) == pytest.approx(0.75)
