"""training/: edge-cut FER faces (the train/serve gap fix) and the attribute net's input size.

Needs the training extras (torch); the FER2013 npz lives outside the repo (../shared/data) and the
tests that read it skip without it.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
FER_NPZ = REPO.parent / "shared/data/fer2013/fer2013.npz"
needs_fer = pytest.mark.skipif(not FER_NPZ.is_file(), reason=f"FER2013 npz not found at {FER_NPZ}")


@pytest.fixture
def torch():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(before)


@needs_fer
def test_edge_crops_find_most_faces_and_come_out_preprocessed() -> None:
    from edge.crop import CropRule
    from edge.preprocess import equalize_clip
    from training.edge_crops import make_crops

    raw = np.load(FER_NPZ)["val_x_raw"][:40]
    crops, found = make_crops(raw, CropRule(), seed=3, copies=2)
    assert crops.shape == (2, 40, 48, 48) and found.shape == (2, 40)
    # BlazeFace misses about a fifth of these upscaled 48 px faces; far more would mean a broken paste
    assert found.mean() >= 0.6, found.mean()
    assert not crops[~found].any()  # a missed face leaves no crop behind
    # T ends in histogram equalization: each crop spans the whole 0..255 range
    kept = crops[found]
    assert kept.min(axis=(1, 2)).max() < 40 and kept.max(axis=(1, 2)).min() > 215
    # the two copies are pasted at their own place and size, so the crops differ
    both = found[0] & found[1]
    assert np.abs(crops[0][both].astype(int) - crops[1][both]).mean() > 3
    # the crop holds its own face: at 12x12 (blind to the edge crop's small shift and turn) it
    # correlates with the dataset's tight crop of the same face far more than with the others'
    small = lambda a: cv2.resize(a, (12, 12), interpolation=cv2.INTER_AREA).ravel().astype(float)
    idx = np.flatnonzero(found[0])
    tight = np.array([small(equalize_clip(raw[i])) for i in idx])
    corr = np.corrcoef(np.array([small(crops[0, i]) for i in idx]), tight)[: len(idx), len(idx):]
    own = np.diag(corr)
    others = (corr.sum(1) - own) / (len(idx) - 1)
    assert own.mean() > 0.35 and others.mean() < 0.2, (own.mean(), others.mean())
    assert (own > others).mean() >= 0.9


def test_edge_swap_replaces_only_faces_the_detector_found(torch) -> None:
    from training.expression import EdgeCrops

    n = 6
    x = torch.zeros(n, 48, 48, 1)
    edge = torch.ones(2, n, 48, 48, 1)
    found = torch.tensor([[True, False, True, False, True, False], [True, False, False, False, True, True]])
    crops = EdgeCrops(edge, found, torch.zeros(0, 48, 48, 1), torch.zeros(0), mix=1.0)
    idx = torch.arange(n)
    out, take, _ = crops.swap(x, idx, torch.Generator().manual_seed(0))
    replaced = out.flatten(1).mean(1) == 1
    assert torch.equal(replaced, take)
    assert not replaced[[1, 3]].any()  # missed in both copies: always the dataset crop
    assert replaced[[0, 4]].all()  # found in both copies
    assert not x.any()  # the caller's batch is not written into
    never = EdgeCrops(edge, found, torch.zeros(0, 48, 48, 1), torch.zeros(0), mix=0.0)
    assert torch.equal(never.swap(x, idx, torch.Generator().manual_seed(0))[0], x)


@pytest.mark.parametrize("size", [64, 96])
def test_attribute_net_reads_its_input_size(torch, size: int) -> None:
    from training.nets import ATTRIBUTE_HEADS, AttributeNet

    out = AttributeNet(size=size).eval()(torch.zeros(2, size, size, 3))
    assert {h: tuple(v.shape) for h, v in out.items()} == {h: (2, n) for h, n in ATTRIBUTE_HEADS.items()}
    with pytest.raises(RuntimeError):  # the head's flatten is sized for one input side only
        AttributeNet(size=size)(torch.zeros(2, size + 16, size + 16, 3))


def test_edge_crops_must_come_from_the_same_training_rows(torch, tmp_path: Path) -> None:
    from training.expression import EdgeCrops

    labels = np.array([0, 3, 3, 6, 1])
    crops = np.full((2, 5, 48, 48), 255, np.uint8)
    found = np.ones((2, 5), bool)
    np.savez(tmp_path / "train.npz", crops=crops, found=found, labels=labels)
    np.savez(tmp_path / "val.npz", crops=crops[:1], found=found[:1] & (labels != 3), labels=labels)
    edge = EdgeCrops.load(tmp_path / "train.npz", tmp_path / "val.npz", labels[:4], mix=0.5)
    assert edge.train.shape == (2, 4, 48, 48, 1) and float(edge.train.max()) == 1.0
    assert edge.val_y.tolist() == [0, 6, 1]  # val keeps only the faces the detector found, with their labels
    with pytest.raises(ValueError, match="other training data"):
        EdgeCrops.load(tmp_path / "train.npz", tmp_path / "val.npz", labels[::-1].copy(), mix=0.5)


def _fake_splits(n: int):
    from training.fer import Splits

    rng = np.random.default_rng(0)
    x = {s: rng.integers(0, 256, (n, 48, 48), dtype=np.uint8) for s in ("train", "val")}
    y = {s: np.arange(n) % 7 for s in ("train", "val")}
    return Splits(x=x, y=y, source="fake", fingerprint="fake")


def test_teacher_labels_follow_the_crop_the_batch_holds(torch) -> None:
    from training.augment import AugmentConfig
    from training.expression import EdgeCrops, ExpressionTask, Teacher

    n = 16
    splits = _fake_splits(n)
    found = torch.ones(1, n, dtype=torch.bool)
    found[0, ::2] = False  # the detector missed every other face: those keep the dataset crop
    edge = EdgeCrops(torch.ones(1, n, 48, 48, 1), found, torch.zeros(0, 48, 48, 1), torch.zeros(0), mix=1.0)
    on_dataset = torch.nn.functional.one_hot(torch.full((n,), 2), 7).float()
    on_edge = torch.nn.functional.one_hot(torch.full((1, n), 5), 7).float()
    task = ExpressionTask(splits, edge=edge, teacher=Teacher(on_dataset, on_edge, weight=0.7))
    task.aug = AugmentConfig(flip=False, max_rotate_deg=0, scale=(1, 1), max_shift=0, brightness=0,
                             contrast=(1, 1), erase_p=0)
    (x, (y, soft)), = task.train_batches(n, torch.Generator().manual_seed(0))
    assert soft.shape == (n, 7) and y.shape == (n,)
    swapped = x.flatten(1).mean(1) > 0.9  # the all-white edge crop, not a random dataset face
    assert swapped.sum() == n // 2
    assert (soft[swapped].argmax(1) == 5).all() and (soft[~swapped].argmax(1) == 2).all()
    assert not torch.equal(task.teacher.train, soft)  # the teacher's own table is not written into


def test_teacher_loss_moves_toward_the_soft_labels(torch) -> None:
    from training.expression import ExpressionTask, Teacher

    splits = _fake_splits(8)
    soft = torch.full((8, 7), 1 / 7)
    task = ExpressionTask(splits, teacher=Teacher(soft, None, weight=1.0))
    y = torch.zeros(8, dtype=torch.long)
    confident = torch.zeros(8, 7)
    confident[:, 0] = 10.0
    # following a uniform teacher only, a sure and right answer costs more than an unsure one
    assert task.loss(confident, (y, soft)) > task.loss(torch.zeros(8, 7), (y, soft))
    task.teacher.weight = 0.0  # labels only: the sure, right answer wins again
    assert task.loss(confident, (y, soft)) < task.loss(torch.zeros(8, 7), (y, soft))


def test_teacher_must_come_from_the_same_training_rows(torch, tmp_path: Path) -> None:
    from training.expression import Teacher

    labels = np.array([0, 3, 3, 6, 1])
    np.savez(tmp_path / "t.npz", train=np.full((5, 7), 1 / 7, np.float32), labels=labels)
    assert Teacher.load(tmp_path / "t.npz", labels, 0.5).edge is None
    with pytest.raises(ValueError, match="no soft labels for the edge crops"):
        Teacher.load(tmp_path / "t.npz", labels, 0.5, need_edge=True)
    with pytest.raises(ValueError, match="other training data"):
        Teacher.load(tmp_path / "t.npz", labels[::-1].copy(), 0.5)


def test_teacher_probabilities_average_the_mirror_views(torch) -> None:
    from training.distill import view_probs
    from training.expression import to_input
    from training.nets import ExpressionNet

    torch.manual_seed(0)
    net = ExpressionNet().eval()
    faces = np.random.default_rng(1).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    with torch.no_grad():
        plain = net(to_input(faces)).softmax(-1).numpy()
        mirror = net(to_input(np.ascontiguousarray(faces[:, :, ::-1]))).softmax(-1).numpy()
    np.testing.assert_allclose(view_probs([net], faces, views=1), plain, atol=1e-6)
    np.testing.assert_allclose(view_probs([net], faces, views=2), (plain + mirror) / 2, atol=1e-6)
    np.testing.assert_allclose(view_probs([net, net], faces, views=2), (plain + mirror) / 2, atol=1e-6)


def _fake_attribute_data(n: int):
    from training.attributes import SOME_EYEWEAR, UNKNOWN, AttributeData

    rng = np.random.default_rng(0)
    x = {s: rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8) for s in ("train", "val")}
    y = {s: {"mask": np.arange(n) % 2, "eyewear": np.array([0, 1, SOME_EYEWEAR, 2] * (n // 4)),
             "glasses_shape": np.array([UNKNOWN, 0, UNKNOWN, UNKNOWN] * (n // 4))} for s in x}
    return AttributeData(x, y, {s: np.array([""] * n) for s in x}, {}, {}, "fake")


def test_attribute_teacher_speaks_only_where_a_head_has_its_label(torch) -> None:
    from training.attributes import AttributesTask, AttributeTeacher

    n = 8
    data = _fake_attribute_data(n)
    uniform = {"mask": torch.full((n, 2), 1 / 2), "eyewear": torch.full((n, 3), 1 / 3),
               "glasses_shape": torch.full((n, 2), 1 / 2)}
    labels = {h: torch.from_numpy(v) for h, v in data.y["train"].items()}
    shape_sure = torch.zeros(n, 2)
    shape_sure[:, 0] = 10.0  # sure "round" on every row; only rows 1 and 5 are labelled round
    outputs = {"mask": torch.zeros(n, 2), "eyewear": torch.zeros(n, 3), "glasses_shape": shape_sure}
    task = AttributesTask(data, teacher=AttributeTeacher(uniform, weight=1.0))
    follows = task.loss(outputs, labels | {"teacher": uniform})
    wrong = {h: p.clone() for h, p in uniform.items()}
    wrong["glasses_shape"][[0, 2, 3, 4, 6, 7]] = torch.tensor([0.0, 1.0])  # rows with no shape label
    assert torch.allclose(task.loss(outputs, labels | {"teacher": wrong}), follows)
    wrong["glasses_shape"][1] = torch.tensor([0.0, 1.0])  # a labelled row: now the teacher disagrees
    assert task.loss(outputs, labels | {"teacher": wrong}) > follows
    (_, batch), = task.train_batches(n, torch.Generator().manual_seed(0))
    assert set(batch) == {"mask", "eyewear", "glasses_shape", "teacher"}


def test_attribute_teacher_averages_runs_and_mirror_and_checks_their_size(torch, tmp_path: Path) -> None:
    import json

    from training.attributes import AttributeTeacher, to_input
    from training.nets import AttributeNet

    torch.manual_seed(0)
    net = AttributeNet(size=64).eval()
    run = tmp_path / "run"
    run.mkdir()
    torch.save(net.state_dict(), run / "best.pt")
    (run / "train_summary.json").write_text(json.dumps({"size": 64}))
    x = _fake_attribute_data(4).x["train"]
    teacher = AttributeTeacher.from_runs([run, run], x, weight=0.5)
    with torch.no_grad():
        plain = net(to_input(x))["eyewear"].softmax(-1)
        mirror = net(to_input(np.ascontiguousarray(x[:, :, ::-1])))["eyewear"].softmax(-1)
    torch.testing.assert_close(teacher.probs["eyewear"], (plain + mirror) / 2, atol=1e-5, rtol=0)
    assert teacher.made_by["views"] == 2 and len(teacher.made_by["runs"]) == 2
    (run / "train_summary.json").write_text(json.dumps({"size": 96}))
    with pytest.raises(ValueError, match="trained at 96 px"):
        AttributeTeacher.from_runs([run], x, weight=0.5)


def test_a_deepened_net_starts_as_the_net_it_grew_from(torch, tmp_path: Path) -> None:
    import json

    from training.expression import to_input
    from training.nets import ExpressionNet, deepen, load_expression_net

    torch.manual_seed(0)
    small = ExpressionNet()
    for m in small.modules():  # trained-looking BN, so a copy that skipped them would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    small.eval()
    faces = to_input(np.random.default_rng(2).integers(0, 256, (16, 48, 48), dtype=np.uint8))
    deep = ExpressionNet(convs=(3, 3, 2, 2))
    deepen(deep, small, faces)
    assert sum(p.numel() for p in deep.parameters()) > sum(p.numel() for p in small.parameters())
    with torch.no_grad():
        np.testing.assert_allclose(deep.eval()(faces).numpy(), small(faces).numpy(), atol=1e-4)
    with pytest.raises(ValueError, match="only adds"):
        deepen(ExpressionNet(), deep, faces)

    torch.save(deep.state_dict(), tmp_path / "best.pt")
    (tmp_path / "train_summary.json").write_text(json.dumps({"net": {"convs": [3, 3, 2, 2]}}))
    with torch.no_grad():
        np.testing.assert_allclose(load_expression_net(tmp_path / "best.pt")(faces).numpy(),
                                   small(faces).numpy(), atol=1e-4)


def test_lineage_adds_up_the_runs_a_cycle_descends_from(torch, tmp_path: Path) -> None:
    import json

    from training.trainer import lineage_summary

    first, second = tmp_path / "first", tmp_path / "second"
    for run in (first, second):
        run.mkdir()
    (first / "train_summary.json").write_text(json.dumps({"command": "one", "wall_seconds": 60.0}))
    (second / "train_summary.json").write_text(json.dumps(
        {"command": "two", "wall_seconds": 30.0, **lineage_summary(first / "best.pt", 30.0)}))
    third = lineage_summary(second / "best.pt", 10.0)
    assert [r["command"] for r in third["lineage"]] == ["one", "two"]
    assert third["total_wall_seconds"] == 100.0 and third["init"] == str(second / "best.pt")
    assert lineage_summary(None, 5.0) == {"init": None, "lineage": [], "total_wall_seconds": 5.0}
