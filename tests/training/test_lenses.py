"""training/lenses.py and training/views.py: synthetic eyewear lands on the eyes with the right
label, hard negatives keep 'none', camera views tilt and blur.

Needs the training extras (torch).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
# BlazeFace keypoints in a 64x64 attribute crop: the medians over the face-attribute photos
KEYPOINTS = np.array([[21.6, 18.5], [42.5, 18.5], [31.9, 30.3], [31.9, 40.5], [11.0, 22.2], [53.1, 22.3]], np.float32)


@pytest.fixture
def torch(torch_one_thread):
    return torch_one_thread


def _batch(torch, labels: list[int], shape: list[int] | None = None, grey: float = 0.6):
    """Flat skin-grey crops (NHWC in [-1, 1]) with the median keypoints and the given eyewear labels."""
    n = len(labels)
    x = torch.full((n, 64, 64, 3), grey * 2 - 1)
    kp = torch.from_numpy(np.repeat(KEYPOINTS[None], n, 0))
    targets = {"mask": torch.zeros(n, dtype=torch.long), "eyewear": torch.tensor(labels),
               "glasses_shape": torch.tensor(shape or [-1] * n)}
    return x, kp, targets


def _regions() -> dict[str, np.ndarray]:
    """Pixel masks: around the pupils, the lower face (mouth and chin), the forehead band above the brows."""
    yy, xx = np.mgrid[0:64, 0:64] + 0.5
    eyes = np.zeros((64, 64), bool)
    for ex, ey in KEYPOINTS[:2]:
        eyes |= (xx - ex) ** 2 + (yy - ey) ** 2 <= 3.0 ** 2
    return {"eyes": eyes, "lower": yy > 40, "forehead": yy < 5}


def _lens(torch, kind: str, labels: list[int], shape: list[int] | None = None):
    from training import lenses

    x, kp, targets = _batch(torch, labels, shape)
    out, new, relabelled = lenses.apply(x, kp, targets, lenses.LensConfig(p=1.0, kinds=(kind,)))
    return x.numpy(), out.numpy(), new, relabelled


def test_darkened_clear_glasses_become_sunglasses_only_over_the_lenses(torch) -> None:
    before, after, new, relabelled = _lens(torch, "darken", [1, 1, 1, 1, -2, -2], [0, 1, 0, 1, -1, -1])
    r = _regions()
    assert (after[:, r["eyes"]].mean(axis=(1, 2)) < before[:, r["eyes"]].mean(axis=(1, 2)) - 0.4).all()
    assert np.allclose(after[:, r["lower"]], before[:, r["lower"]], atol=1e-5)  # the mouth and chin are untouched
    assert new["eyewear"].tolist() == [2] * 6 and relabelled.all()
    assert new["glasses_shape"].tolist() == [-1] * 6  # the frame is the photo's, but the shape label is dropped


def test_painted_pairs_on_bare_faces_take_the_pair_kind_and_keep_the_rest(torch) -> None:
    r = _regions()
    before, after, new, _ = _lens(torch, "paint_sun", [0] * 6)
    assert new["eyewear"].tolist() == [2] * 6
    assert (after[:, r["eyes"]].mean(axis=(1, 2)) < before[:, r["eyes"]].mean(axis=(1, 2)) - 0.4).all()
    before, after, new, _ = _lens(torch, "paint_clear", [0] * 6)
    assert new["eyewear"].tolist() == [1] * 6
    # a clear lens: the pupils' surroundings stay close to the skin (a faint haze and reflections at most)
    assert (np.abs(after[:, r["eyes"]] - before[:, r["eyes"]]).mean(axis=(1, 2)) < 0.5).all()
    assert np.allclose(after[:, r["lower"]], before[:, r["lower"]], atol=1e-5)


def test_hard_negatives_keep_their_label_and_leave_the_eyes_alone(torch) -> None:
    r = _regions()
    before, after, new, relabelled = _lens(torch, "hair", [0, 0, 0, 1])
    assert new["eyewear"].tolist() == [0, 0, 0, 1] and not relabelled.any()  # pushed up: not worn
    assert np.allclose(after[:, r["eyes"]], before[:, r["eyes"]], atol=1e-5)
    assert (after[:, r["forehead"]].mean(axis=(1, 2)) < before[:, r["forehead"]].mean(axis=(1, 2)) - 0.2).all()
    before, after, new, relabelled = _lens(torch, "shadow", [0] * 4)
    assert new["eyewear"].tolist() == [0] * 4 and not relabelled.any()
    yy = np.mgrid[0:64, 0:64][0] + 0.5
    lids, below = (yy > 12) & (yy < 18), yy > 19.5  # the upper lids; the pupils' lower half and the cheeks
    assert (after <= before + 1e-5).all() and np.allclose(after[:, below], before[:, below], atol=1e-5)
    assert (after[:, lids].min(axis=(1, 2)) < before[:, lids].min(axis=(1, 2)) - 0.3).all()


def test_reflections_keep_clear_glasses_clear(torch) -> None:
    r = _regions()
    before, after, new, relabelled = _lens(torch, "reflection", [1, 1, 2, 2] * 3)
    assert new["eyewear"].tolist() == [1, 1, 2, 2] * 3 and not relabelled.any()
    assert (after >= before - 1e-6).all()  # only brighter: glare, never a tint
    assert np.allclose(after[:, r["lower"]], before[:, r["lower"]], atol=1e-5)


def test_faces_whose_eyewear_is_unknown_get_nothing(torch) -> None:
    from training import lenses

    x, kp, targets = _batch(torch, [-1] * 8)
    out, new, relabelled = lenses.apply(x, kp, targets, lenses.LensConfig(p=1.0))
    assert torch.equal(out, x) and torch.equal(new["eyewear"], targets["eyewear"]) and not relabelled.any()
    with pytest.raises(ValueError):
        lenses.parse_kinds("darken,tinted")


def test_relabelled_rows_follow_their_new_label_not_the_teacher(torch) -> None:
    from training import lenses
    from training.attributes import AttributeData, AttributesTask, AttributeTeacher

    n = 8
    x = {s: np.full((n, 64, 64, 3), 150, np.uint8) for s in ("train", "val")}
    y = {s: {"mask": np.arange(n) % 2, "eyewear": np.array([1, 0] * 4), "glasses_shape": np.array([0, -1, 1, -1] * 2)}
         for s in x}
    data = AttributeData(x, y, {s: np.array([""] * n) for s in x}, {}, {}, "fake",
                         {s: np.repeat(KEYPOINTS[None], n, 0) for s in x})
    teacher = AttributeTeacher({"mask": torch.full((n, 2), 0.5), "eyewear": torch.full((n, 3), 1 / 3),
                                "glasses_shape": torch.full((n, 2), 0.5)}, weight=0.7)
    task = AttributesTask(data, teacher=teacher, lens=lenses.LensConfig(p=1.0, kinds=("darken",)))
    (_, batch), = task.train_batches(n, torch.Generator().manual_seed(0))
    darkened = batch["eyewear"] == 2
    assert darkened.sum() == 4  # the four clear-glasses faces
    assert torch.equal(batch["teacher"]["eyewear"][darkened], torch.tensor([[0.0, 0.0, 1.0]] * 4))
    assert torch.allclose(batch["teacher"]["eyewear"][~darkened], torch.full((4, 3), 1 / 3))


def test_camera_from_below_magnifies_the_chin_and_distance_blurs(torch) -> None:
    from training import views

    x = torch.zeros(1, 1, 64, 64)
    x[..., 16] = x[..., 47] = 1.0  # two vertical lines
    tilted = views.keystone(x, torch.tensor([0.25]), torch.tensor([0.0]))[0, 0]

    def gap(row: int) -> int:
        cols = np.flatnonzero(tilted[row].numpy() > 0.3)
        return int(cols.max() - cols.min())

    assert gap(60) > 31 > gap(3)  # wider apart near the bottom (nearer the camera), closer at the top
    noise = torch.rand(4, 3, 64, 64)
    far = views.far_away(noise, 24)
    assert far.shape == noise.shape and abs(far.mean() - noise.mean()) < 0.02
    assert (far[..., 1:] - far[..., :-1]).abs().mean() < 0.5 * (noise[..., 1:] - noise[..., :-1]).abs().mean()


def test_eyewear_per_kind_counts_each_labelled_kind_with_and_without_a_mask(torch) -> None:
    from training.eyewear_eval import by_kind

    eyewear = np.array([0, 0, 1, 1, 2, -2, -2, -1])
    mask = np.array([0, 1, 1, 1, 1, 0, 0, 1])
    read = np.array([0, 2, 1, 2, 2, 1, 0, 0])  # predicted class per image
    rows = {(r["kind"], r["mask"]): r for r in by_kind(np.eye(3)[read], eyewear, mask)}
    assert set(rows) == {("none", "mask"), ("none", "no mask"), ("clear_glasses", "no mask"),
                         ("sunglasses", "no mask"), ("glasses_unknown", "mask")}  # unlabelled eyewear left out
    assert rows[("none", "no mask")]["correct"] == 0.0 and rows[("none", "no mask")]["sunglasses"] == 1.0
    assert rows[("clear_glasses", "no mask")]["n"] == 2 and rows[("clear_glasses", "no mask")]["correct"] == 0.5
    assert rows[("glasses_unknown", "mask")]["correct"] == 0.5  # any eyewear is right, none is wrong
