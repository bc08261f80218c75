"""convert/: a briefly trained ExpressionNet must come out full-int8 and agree with PyTorch; the
head map must survive several heads; the manifest must catch a swapped file.

The FER2013 npz lives outside the repo (../shared/data); without it the conversion smoke test
skips. Conversion needs the training extras (torch, litert-torch: requirements/train.txt); a
runtime-only install skips those tests and still runs the manifest ones.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from convert import manifest

REPO = Path(__file__).resolve().parents[2]
FER_NPZ = REPO.parent / "shared/data/fer2013/fer2013.npz"
FERPLUS_NPZ = REPO.parent / "shared/data/ferplus/ferplus.npz"


@pytest.fixture
def torch_one_thread(torch_one_thread):
    """conftest's, and a skip without the converter."""
    pytest.importorskip("litert_torch")
    return torch_one_thread


def _briefly_trained_expression_net(x, y):
    """~80 AdamW steps over a few hundred faces, then BN statistics recomputed on them.

    The model must be confident enough that argmax means something (median top-2 margin ~0.06),
    or agreement measures ties between near-uniform logits instead of int8 error; after so few
    steps BN's running averages still sit near their init, so they are recomputed exactly.
    """
    import torch
    from torch import nn

    from training.nets import ExpressionNet

    torch.manual_seed(0)
    model = ExpressionNet()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    model.train()
    for _ in range(10):
        for i in torch.randperm(len(x)).split(32):
            loss = nn.functional.cross_entropy(model(x[i]), y[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches below
    with torch.no_grad():
        for i in torch.arange(len(x)).split(64):
            model(x[i])
    return model.eval()


@pytest.mark.skipif(not FER_NPZ.is_file(), reason=f"FER2013 npz not found at {FER_NPZ}")
def test_expression_net_converts_to_full_int8_and_agrees(tmp_path: Path, torch_one_thread) -> None:
    torch = torch_one_thread
    from convert import int8
    from edge.runtime import TFLiteModel
    from training.expression import to_input
    from training.nets import load_expression_net

    z = np.load(FER_NPZ)
    x = to_input(z["train_x"][:512])
    y = torch.from_numpy(z["train_y"][:256].astype(np.int64))
    # converted as convert finds a run's net: its best.pt, loaded into the net it names (the checkpoint
    # tests/training/test_ferplus.py's one-epoch run writes is loaded the same way)
    torch.save(_briefly_trained_expression_net(x[:256], y).state_dict(), tmp_path / "best.pt")
    model = load_expression_net(tmp_path / "best.pt")

    result = int8.to_int8_tflite(model, x, tmp_path / "expression_int8.tflite", ["expression"])

    tm = TFLiteModel(result.path)
    assert [t.dtype for t in tm.inputs] == [np.dtype(np.int8)]
    assert [t.dtype for t in tm.outputs] == [np.dtype(np.int8)]
    assert tm.inputs[0].shape == (1, 48, 48, 1)
    assert result.outputs == {"expression": 0}
    assert not [op for op, dt in int8.op_dtypes(result.path) if dt.kind == "f"]
    assert result.bytes < 1.6e6  # int8 kernels: a quarter of the ~5.3 MB float file

    par = int8.parity(model, result.path, x[:256], result.outputs, ["expression"])
    assert par["n"] == 256
    assert par["agreement"] >= 0.90, par
    assert par["max_abs_prob_diff"] < 0.5, par


def _three_heads():
    """Two heads of the same shape: only names or a probe can tell them apart."""
    import torch
    from torch import nn

    class ThreeHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                      nn.Flatten())
            self.a, self.b, self.c = nn.Linear(8, 2), nn.Linear(8, 2), nn.Linear(8, 1)
            with torch.no_grad():
                for layer in (self.a, self.b, self.c):
                    layer.weight.mul_(8)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            h = self.body(x.permute(0, 3, 1, 2))
            return self.a(h), self.b(h), self.c(h)

    return ThreeHeads()


def test_multi_head_outputs_are_mapped_to_head_names(tmp_path: Path, torch_one_thread) -> None:
    torch = torch_one_thread
    from convert import int8

    torch.manual_seed(0)
    model = _three_heads().eval()
    calib = torch.rand(500, 16, 16, 3) * 2 - 1
    heads = ["gender", "glasses", "smile"]
    result = int8.to_int8_tflite(model, calib, tmp_path / "heads.tflite", heads)
    assert sorted(result.outputs) == heads
    assert sorted(result.outputs.values()) == [0, 1, 2]
    # the map must hold for real: each tflite output tracks its own PyTorch head
    par = int8.parity(model, result.path, calib[:100], result.outputs, heads)
    assert par["agreement"] >= 0.9, par
    # and the probe alone reaches the same map as the tensor names
    probed, how = int8.match_outputs(int8._Named(model, heads), result.path, calib[:32])
    assert probed == result.outputs and "name" in how


def test_manifest_write_entry_and_verify(tmp_path: Path) -> None:
    models = tmp_path / "models_tflite"
    models.mkdir()
    (models / "a.tflite").write_bytes(b"\x00\x00\x00\x00TFL3 model a")
    (models / "b.tflite").write_bytes(b"\x00\x00\x00\x00TFL3 model b")
    path = models / "manifest.json"

    stored = manifest.write_entry(path, "b_model", {"file": "b.tflite", "classes": ["x", "y"]})
    manifest.write_entry(path, "a_model", {"file": str(models / "a.tflite")})  # absolute path is made relative
    data = json.loads(path.read_text())
    assert list(data) == ["a_model", "b_model"]  # sorted, and the earlier entry kept
    assert data["a_model"]["file"] == "a.tflite"
    assert stored["bytes"] == len(b"\x00\x00\x00\x00TFL3 model b")
    assert stored["sha256"] == manifest.sha256_file(models / "b.tflite")
    assert data["b_model"]["classes"] == ["x", "y"]
    assert path.read_text().startswith('{\n  "a_model"')  # indent 2
    assert manifest.verify(path) == []

    (models / "b.tflite").write_bytes(b"\x00\x00\x00\x00TFL3 model B")  # same size, other bytes
    problems = manifest.verify(path)
    assert len(problems) == 1 and "b_model" in problems[0] and "sha256" in problems[0]

    (models / "a.tflite").unlink()
    assert any("a_model" in p and "missing" in p for p in manifest.verify(path))
    assert manifest.verify(tmp_path / "nowhere.json") == [f"{tmp_path / 'nowhere.json'}: missing"]

    with pytest.raises(FileNotFoundError):
        manifest.write_entry(path, "c_model", {"file": "c.tflite"})


def test_input_levels_flags_a_scale_that_merges_pixels() -> None:
    pytest.importorskip("torch")
    from convert.int8 import input_levels

    # what calibration gives for [-1, 1] pixels: one pair merged at the top, nothing else lost
    assert input_levels({"scale": 0.0078393, "zero_point": 0}, 1 / 127.5, -1.0) >= 254
    # exactly 1/127.5 puts pixels on .5 boundaries and half-to-even rounding merges many of them
    assert input_levels({"scale": 1 / 127.5, "zero_point": 0}, 1 / 127.5, -1.0) < 250
    assert input_levels({"scale": 0.0, "zero_point": 0}, 1 / 127.5, -1.0) == 256  # float input


@pytest.mark.parametrize("model", ["expression", "attributes"])
def test_val_only_refuses_the_shipped_models_folder(model: str, tmp_path: Path, torch_one_thread, capsys) -> None:
    """A candidate scored on val only must never become the shipped entry, which needs test figures."""
    from convert.__main__ import main

    shipped = REPO / "models_tflite" / "manifest.json"
    before = shipped.read_bytes()
    # a missing run: should the guard ever go, this fails on the run, not by converting into models_tflite
    args = [model, "--val-only", "--run", str(tmp_path / "no_run"), "--out", str(REPO / "models_tflite")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--val-only" in err[0] and "scratch" in err[0]
    assert shipped.read_bytes() == before


@pytest.mark.skipif(not FERPLUS_NPZ.is_file(), reason=f"FER+ not found at {FERPLUS_NPZ}")
def test_val_only_loads_no_test_faces(torch_one_thread) -> None:
    from convert.expression import load_data
    from training import ferplus

    splits = ferplus.load(FERPLUS_NPZ)
    data = load_data(splits, calib_n=16, parity_n=16, seed=0, splits_scored=("val",))
    assert set(data.x) == set(data.y) == {"val"}
    assert len(data.x["val"]) == 3579 and int((data.y["val"]["expression"] >= 0).sum()) == 3199
    assert set(load_data(splits, 16, 16, 0).x) == {"val", "test"}


@pytest.mark.skipif(not FERPLUS_NPZ.is_file(), reason=f"FER+ not found at {FERPLUS_NPZ}")
def test_rescore_changes_how_the_edge_feeds_the_model_and_not_the_model(tmp_path: Path, torch_one_thread) -> None:
    """`--rescore` scores the committed file again as the edge would feed it: the manifest's input.preprocess
    changes, the transform the net learned on is kept beside it, the file and its sha256 stay."""
    import shutil

    from convert.__main__ import main

    shipped = json.loads((REPO / "models_tflite" / "manifest.json").read_text())["expression"]
    shutil.copy(REPO / "models_tflite" / shipped["file"], tmp_path / shipped["file"])
    (tmp_path / "manifest.json").write_text(json.dumps({"expression": shipped}))
    args = ["expression", "--rescore", "--val-only", "--views", "1", "--out", str(tmp_path),
            "--serve-preprocess", "equalizeHist(clip(1.2*x))"]
    assert main(args) == 0
    entry = manifest.read(tmp_path / "manifest.json")["expression"]
    assert entry["input"]["preprocess"] == "equalizeHist(clip(1.2*x))"
    assert entry["training"]["preprocess"] == shipped["training"]["preprocess"] == "equalizeHist(clip(1.2*x))"
    assert entry["sha256"] == shipped["sha256"]
    val = entry["metrics"]["int8_views1"]["val"]
    assert "equalizeHist(clip(1.2*x)) applied" in entry["metrics"]["int8_views1"]["note"]
    # the plain int8 file under its training transform is what the pipeline measured at conversion
    assert val["accuracy"] == pytest.approx(shipped["metrics"]["int8"]["val"]["accuracy"], abs=0.002)


def test_the_contempt_gate_is_chosen_for_precision_on_val() -> None:
    from convert.expression import choose_gate, gate_report
    from edge.state import EXPRESSIONS

    c, n = EXPRESSIONS.index("contempt"), EXPRESSIONS.index("neutral")
    probs = np.zeros((10, len(EXPRESSIONS)))
    truth = np.array([c, c, c, n, n, n, n, c, n, -1])
    conf = np.array([0.9, 0.8, 0.7, 0.6, 0.55, 0.5, 0.45, 0.2, 0.1, 0.95])
    probs[:, c], probs[:, n] = conf, 1 - conf  # contempt is the answer wherever conf >= 0.5 (ties: first class)
    # ungated, 6 faces with a kept label are shown contempt and 3 are right; from 0.51 on, 3 of 5 are
    assert gate_report(probs, truth, "contempt") == {"shown": 6, "precision": 0.5, "recall": 0.75, "n": 4}
    assert choose_gate(probs, truth) == pytest.approx(0.51)
    assert choose_gate(probs, np.full(10, n)) == 1.0  # never right: never shown
