"""training/from_tflite.py: the shipped int8 models rebuild as PyTorch weights that compute what
the files compute, on the demo portraits' own crops (so a further cycle starts where the shipped
model is, not from scratch).

Needs the training extras (torch) and the LiteRT interpreter.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models_tflite"


@pytest.fixture
def torch(torch_one_thread):
    pytest.importorskip("ai_edge_litert")
    return torch_one_thread


def _variants(crop: np.ndarray) -> list[np.ndarray]:
    return [crop, crop[:, ::-1], np.clip(crop * 0.6, 0, 255).astype(np.uint8)]


def test_shipped_int8_attribute_model_rebuilds_in_pytorch(torch, portraits, detector) -> None:
    from training.tflite_eval import run_tflite
    from edge.perceive.crop import CropRule, crop_face
    from training.from_tflite import net_from_tflite
    from training.trainer import predict

    tfl = MODELS / "attributes_int8.tflite"
    crops = []
    for img in portraits.values():
        crops += _variants(crop_face(img, detector.detect(img)[0], CropRule(1.3, 0.05), (64, 64), "rgb"))
    x = torch.from_numpy(np.stack(crops)).float() / 127.5 - 1
    net = net_from_tflite(tfl, x)
    ours = predict(net, x)
    theirs = run_tflite(tfl, x.numpy(), {"mask": 0, "eyewear": 1, "glasses_shape": 2})
    for head in ours:
        assert np.abs(ours[head] - theirs[head]).max() < 0.08, head


def test_shipped_int8_expression_model_rebuilds_in_pytorch(torch, portraits, detector) -> None:
    from training.tflite_eval import run_tflite
    from edge.perceive.classify import Classifier
    from training.expression import to_input
    from training.from_tflite import expression_net_from_tflite
    from training.trainer import predict

    clf = Classifier("expression", json.loads((MODELS / "manifest.json").read_text())["expression"], MODELS)
    crops = []
    for img in portraits.values():
        crops += _variants(clf.preprocess(clf.crop(img, detector.detect(img)[0])))
    x = to_input(np.stack(crops))
    net = expression_net_from_tflite(clf.path, x)
    ours = predict(net, x)
    theirs = run_tflite(clf.path, x.numpy(), {"expression": 0})["expression"]
    assert np.abs(ours - theirs).max() < 0.08
    assert (ours.argmax(1) == theirs.argmax(1)).all()
    # the first conv has one input channel: the file holds it as a depthwise conv, and a kernel read
    # along the wrong axis would not give these answers
    assert ours.argmax(1).tolist()[:3] == [int(np.argmax(clf.probabilities(crops[0], preprocessed=True)["expression"]))] * 3


def test_a_file_of_another_shape_is_refused_with_what_it_holds(torch) -> None:
    from training.from_tflite import expression_net_from_tflite

    with pytest.raises(ValueError, match="8 convs and 4 dense layers; ExpressionNet has 8 and 2"):
        expression_net_from_tflite(MODELS / "attributes_int8.tflite", torch.zeros(2, 48, 48, 1))
