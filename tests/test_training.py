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
    out = crops.swap(x, idx, torch.Generator().manual_seed(0))
    replaced = out.flatten(1).mean(1) == 1
    assert not replaced[[1, 3]].any()  # missed in both copies: always the dataset crop
    assert replaced[[0, 4]].all()  # found in both copies
    assert not x.any()  # the caller's batch is not written into
    never = EdgeCrops(edge, found, torch.zeros(0, 48, 48, 1), torch.zeros(0), mix=0.0)
    assert torch.equal(never.swap(x, idx, torch.Generator().manual_seed(0)), x)


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
