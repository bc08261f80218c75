"""training/paired_views.py: the two views of a crop differ in light and sharpness as a camera
makes them differ, and the divergence pulls two answers together only where they differ.

Needs the training extras (torch).
"""
from __future__ import annotations

import numpy as np
import pytest

from edge.perceive.crop import crop_face


@pytest.fixture
def torch(torch_one_thread):
    return torch_one_thread


@pytest.fixture(scope="module")
def hopper_crop(portraits, detector) -> np.ndarray:
    """Grace Hopper's face cut the way the attribute model sees it (RGB, 64 x 64, [-1, 1])."""
    from training.attributes import CROP

    img = portraits["grace_hopper.jpg"]
    face = detector.detect(img)[0]
    return crop_face(img, face, CROP, (64, 64), "rgb").astype(np.float32) / 127.5 - 1


def test_exposure_scales_and_clips_like_a_camera(torch, hopper_crop) -> None:
    from training.paired_views import exposure

    x = torch.from_numpy(np.stack([hopper_crop] * 64))
    out = exposure(x, 1.3, 1.3)
    x01, o01 = (x + 1) / 2, (out + 1) / 2
    assert torch.allclose(o01, (x01 * 1.3).clamp(0, 1), atol=1e-5)
    assert (o01 == 1).float().mean() > (x01 >= 0.999).float().mean()  # the bright collar clips
    assert exposure(x, 0.7, 0.7).mean() < x.mean()


def test_low_resolution_blurs_only_the_crops_picked(torch, hopper_crop) -> None:
    from training.paired_views import low_res

    x = torch.from_numpy(np.stack([hopper_crop] * 8))
    assert torch.equal(low_res(x, 0.0, (16, 16)), x)
    out = low_res(x, 1.0, (16, 16))
    detail = lambda t: (t[:, :, 1:] - t[:, :, :-1]).abs().mean().item()  # noqa: E731
    assert detail(out) < 0.7 * detail(x)


def test_divergence_is_zero_for_one_answer_and_grows_with_disagreement(torch) -> None:
    from training.paired_views import divergence

    same = torch.tensor([[2.0, 0.0, -1.0]] * 4)
    assert divergence({"eyewear": same}, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    near = torch.cat([same[:2], same[:2] + torch.tensor([0.3, 0.0, 0.0])])
    far = torch.cat([same[:2], same[:2].flip(-1)])
    d_near, d_far = (divergence({"eyewear": t}, 2.0).item() for t in (near, far))
    assert 0 < d_near < d_far
    assert divergence({"a": far, "b": far}, 1.0).item() == pytest.approx(d_far, rel=1e-5)  # per head, half weight x 2


def test_targets_of_the_pair_repeat_through_nested_teacher_probabilities(torch) -> None:
    from training.paired_views import repeat_targets

    t = {"eyewear": torch.tensor([0, 2]), "teacher": {"eyewear": torch.eye(3)[:2]}}
    r = repeat_targets(t)
    assert r["eyewear"].tolist() == [0, 2, 0, 2]
    assert r["teacher"]["eyewear"].shape == (4, 3)


def test_paired_batches_stack_two_views_and_their_disagreement_costs(torch, hopper_crop) -> None:
    """An attribute task with pairs yields both views of each crop (labels repeated), and the loss
    of a net that answers the two views differently exceeds the same task's loss without pairs."""
    from training.attributes import AttributeData, AttributesTask
    from training.paired_views import PairConfig

    n = 8
    x = (np.stack([hopper_crop] * n) * 127.5 + 127.5).round().clip(0, 255).astype(np.uint8)
    y = {"mask": np.ones(n, int), "eyewear": np.ones(n, int), "glasses_shape": np.zeros(n, int)}
    data = AttributeData({s: x for s in ("train", "val")}, {s: y for s in ("train", "val")},
                         {s: np.array([""] * n) for s in ("train", "val")}, {}, {}, "test")
    paired = AttributesTask(data, pairs=PairConfig(weight=2.0))
    xb, targets = next(paired.train_batches(4, torch.Generator().manual_seed(0)))
    assert xb.shape == (8, 64, 64, 3) and targets["eyewear"].tolist() == [1] * 8
    assert not torch.allclose(xb[:4], xb[4:])
    logits = {"mask": torch.randn(8, 2), "eyewear": torch.randn(8, 3), "glasses_shape": torch.randn(8, 2)}
    plain = AttributesTask(data)
    assert paired.loss(logits, targets).item() > plain.loss(logits, targets).item()
