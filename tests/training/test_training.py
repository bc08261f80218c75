"""training/: the attribute net and its teacher, deepening, lineage (FER+ lives in test_ferplus.py).

Needs the training extras (torch).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

@pytest.fixture
def torch(torch_one_thread):
    return torch_one_thread


@pytest.mark.parametrize("size", [64, 96])
def test_attribute_net_reads_its_input_size(torch, size: int) -> None:
    from training.nets import ATTRIBUTE_HEADS, AttributeNet

    out = AttributeNet(size=size).eval()(torch.zeros(2, size, size, 3))
    assert {h: tuple(v.shape) for h, v in out.items()} == {h: (2, n) for h, n in ATTRIBUTE_HEADS.items()}
    with pytest.raises(RuntimeError):  # the head's flatten is sized for one input side only
        AttributeNet(size=size)(torch.zeros(2, size + 16, size + 16, 3))


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


def test_eyewear_wild_rows_follow_their_labels_not_the_teacher(torch) -> None:
    """The teacher never saw mirrored or coloured lenses: on eyewear_wild's rows (the last ones) the
    target is the label, uniform for an `other` frame, the teacher's where the label is unknown."""
    from training.attribute_data import OTHER_SHAPE, UNKNOWN
    from training.attributes import AttributesTask, AttributeTeacher

    n, wild = 8, 4
    data = _fake_attribute_data(n)
    data.y["train"]["eyewear"][n - wild:] = [2, 2, 1, UNKNOWN]
    data.y["train"]["glasses_shape"][n - wild:] = [UNKNOWN, UNKNOWN, OTHER_SHAPE, UNKNOWN]
    data.wild_train = wild
    teacher = AttributeTeacher({"mask": torch.full((n, 2), 0.5), "eyewear": torch.full((n, 3), 1 / 3),
                                "glasses_shape": torch.tensor([[0.9, 0.1]] * n)}, weight=0.7)
    task = AttributesTask(data, teacher=teacher)
    eyewear, shape = task.teacher.probs["eyewear"], task.teacher.probs["glasses_shape"]
    assert torch.equal(eyewear[n - 4], torch.tensor([0.0, 0.0, 1.0]))  # a wild sunglasses row: its label
    assert torch.allclose(eyewear[n - 1], torch.full((3,), 1 / 3))  # unknown: the teacher's
    assert torch.allclose(eyewear[0], torch.full((3,), 1 / 3))  # the face-attribute rows keep the teacher
    assert torch.allclose(shape[n - 2], torch.tensor([0.5, 0.5]))  # an `other` frame: unsure
    assert torch.allclose(shape[0], torch.tensor([0.9, 0.1]))


def test_an_other_frame_is_learned_as_unsure(torch) -> None:
    from training.attribute_data import OTHER_SHAPE
    from training.attributes import AttributesTask

    n = 8
    data = _fake_attribute_data(n)
    data.y["train"]["glasses_shape"][:] = OTHER_SHAPE
    task = AttributesTask(data)
    labels = {h: torch.from_numpy(v) for h, v in data.y["train"].items()}
    zeros = {"mask": torch.zeros(n, 2), "eyewear": torch.zeros(n, 3)}
    unsure = task.loss(zeros | {"glasses_shape": torch.zeros(n, 2)}, labels)
    sure = task.loss(zeros | {"glasses_shape": torch.tensor([[4.0, -4.0]] * n)}, labels)
    assert sure > unsure + 1.0


def test_every_recipe_names_only_flags_of_its_task(tmp_path: Path) -> None:
    """A misspelt key in a recipe would be taken silently as a default no flag reads."""
    import argparse
    import importlib

    from training.__main__ import LOOP_TASKS, load_recipe, shared_arguments

    recipes = sorted((Path(__file__).resolve().parents[2] / "training/recipes").glob("*.toml"))
    assert any(r.name == "attributes.toml" for r in recipes)
    for recipe in recipes:
        import tomllib

        task = tomllib.loads(recipe.read_text())["task"]
        ap = argparse.ArgumentParser()
        shared_arguments(ap)
        importlib.import_module(LOOP_TASKS[task]).add_arguments(ap)
        known = {a.dest for a in ap._actions}
        assert set(load_recipe(recipe, task)) <= known, (recipe.name, set(load_recipe(recipe, task)) - known)


def test_wild_rows_are_seen_wild_repeat_times_an_epoch(torch) -> None:
    from training.attributes import AttributesTask

    n, wild = 8, 2
    data = _fake_attribute_data(n)
    data.wild_train = wild
    task = AttributesTask(data, wild_repeat=3)
    assert task.train_size == n + 2 * wild
    assert sorted(task.rows.tolist()) == sorted(list(range(n)) + [6, 7] * 2)
    seen = sum(len(xb) for xb, _ in task.train_batches(4, torch.Generator().manual_seed(0)))
    assert seen == 12
