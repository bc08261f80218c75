"""training/live_views.py: a training face cut again from frames the way the live mirror cuts it, and
paired views that read two different cuts of one face with the same painted lenses.

Needs the training extras (torch).
"""
from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.perceive.detect import BlazeFaceDetector, TiledDetector


@pytest.fixture
def torch(torch_one_thread):
    return torch_one_thread


@pytest.fixture(scope="module")
def hopper_cuts(portraits, detector):
    """Grace Hopper pasted into frames at 60 to 300 px and cut by the live detector, beside her photo's own cut."""
    from training import live_views
    from training.attributes import CROP

    img = portraits["grace_hopper.jpg"]
    face = detector.detect(img)[0]
    tiled = TiledDetector(BlazeFaceDetector("short", 1))
    rng = np.random.default_rng(0)
    cuts = [live_views.cut(frame, tiled, centre, size, CROP, 64) for frame, centre, size in
            live_views.frames_for(img, face, 6, rng)]
    from edge.perceive.crop import crop_face, crop_matrix

    m = crop_matrix(face, CROP, (64, 64))
    return crop_face(img, face, CROP, (64, 64), "rgb"), face.keypoints @ m[:, :2].T + m[:, 2], cuts


def test_frame_cuts_find_the_face_and_put_its_eyes_where_the_photo_cut_has_them(hopper_cuts) -> None:
    own, own_kps, cuts = hopper_cuts
    assert all(c is not None for c in cuts)
    for crop, kps in cuts:
        assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8
        assert np.abs(kps[:2] - own_kps[:2]).max() < 6  # the eyes: the same face, framed the same way
    # another box, scale and light than the photo's own crop, the same picture (the brightest clips)
    grey = [c.astype(float).mean(2).ravel() for c, _ in cuts]
    assert min(float(np.abs(g - own.mean(2).ravel()).mean()) for g in grey) > 1
    assert np.median([np.corrcoef(g, own.mean(2).ravel())[0, 1] for g in grey]) > 0.7


def test_a_pick_takes_frame_cuts_only_where_some_were_found_and_at_its_share(torch, hopper_cuts) -> None:
    from training.live_views import LiveViews

    own, own_kps, cuts = hopper_cuts
    n = 4
    crops = np.stack([np.stack([c for c, _ in cuts[:2]])] * n)
    found = np.array([[True, True], [True, False], [False, False], [True, True]])
    kps = np.stack([np.stack([k for _, k in cuts[:2]])] * n).astype(np.float32)
    base = torch.from_numpy(np.stack([own] * n))
    base_kps = torch.from_numpy(np.stack([own_kps] * n).astype(np.float32))
    idx = torch.arange(n)
    x, k = LiveViews(crops, found, kps, p=1.0).pick(idx, base, base_kps)
    assert torch.equal(x[2], base[2]) and torch.equal(k[2], base_kps[2])  # nothing found: the photo's cut
    assert torch.equal(x[1], torch.from_numpy(crops[1, 0]))  # the one found
    assert not torch.equal(x[0], base[0]) and not torch.equal(x[3], base[3])
    x0, k0 = LiveViews(crops, found, kps, p=0.0).pick(idx, base, base_kps)
    assert torch.equal(x0, base) and torch.equal(k0, base_kps)


def test_paired_views_read_two_cuts_of_a_face_with_the_same_lenses(torch, hopper_cuts, monkeypatch) -> None:
    from training import lenses
    from training.attributes import AttributeData, AttributesTask
    from training.live_views import LiveViews
    from training.paired_views import PairConfig

    own, own_kps, cuts = hopper_cuts
    n = 16
    x = {s: np.stack([own] * n) for s in ("train", "val")}
    y = {s: {"mask": np.ones(n, int), "eyewear": np.array([1, 0] * 8), "glasses_shape": np.array([0, -1] * 8)}
         for s in x}
    data = AttributeData(x, y, {s: np.array([""] * n) for s in x}, {}, {}, "test",
                         {s: np.stack([own_kps] * n).astype(np.float32) for s in x})
    live = LiveViews(np.stack([np.stack([c for c, _ in cuts])] * n), np.ones((n, len(cuts)), bool),
                     np.stack([np.stack([k for _, k in cuts])] * n).astype(np.float32), p=1.0)
    chosen = []
    choose = lenses.choose_kinds
    monkeypatch.setattr(lenses, "choose_kinds", lambda *a: chosen.append(choose(*a)) or chosen[-1])
    task = AttributesTask(data, lens=lenses.LensConfig(p=1.0, kinds=("darken", "paint_sun", "paint_clear")),
                          pairs=PairConfig(weight=2.0), live=live)
    torch.manual_seed(0)
    xb, targets = next(task.train_batches(n, torch.Generator().manual_seed(0)))
    assert xb.shape == (2 * n, 64, 64, 3)
    # bare faces get sun or clear frames at random: each face the same kind in both of its views
    assert len(chosen) == 2 and chosen[0] == chosen[1]
    assert {"darken", "paint_sun", "paint_clear"} == set(chosen[0])
    assert targets["eyewear"][:n].tolist() == [{"darken": 2, "paint_sun": 2, "paint_clear": 1}[k] for k in chosen[0]]
    assert not torch.allclose(xb[:n], xb[n:])
    with pytest.raises(ValueError, match="frame cuts for 3 train faces"):
        AttributesTask(data, live=LiveViews(live.crops[:3], live.found[:3], live.keypoints[:3]))


def test_cuts_are_made_for_train_photos_only_and_read_back_from_the_cache(portraits, tmp_path: Path) -> None:
    from training import live_views
    from training.attributes import CROP

    (tmp_path / "images").mkdir()
    rows = []
    for i, (name, split) in enumerate([("grace_hopper.jpg", "train"), ("astronaut.png", "val"),
                                       ("astronaut.png", "train")]):
        cv2.imwrite(str(tmp_path / f"images/{i}.jpg"), portraits[name])
        rows.append({"file": f"images/{i}.jpg", "split": split})
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["file", "split"])
        w.writeheader()
        w.writerows(rows)
    cache = tmp_path / "live.npz"
    rule = replace(CROP, filter="area")
    live = live_views.prepare(tmp_path, cache, 64, rule, 2)
    assert live.crops.shape == (2, 2, 64, 64, 3) and live.found.all()
    again = live_views.prepare(tmp_path, cache, 64, rule, 2)
    assert np.array_equal(again.crops, live.crops) and np.array_equal(again.keypoints, live.keypoints)
    other = live_views.prepare(tmp_path, cache, 64, rule, 2, seed=1)  # another recipe: cut again
    assert not np.array_equal(other.crops, live.crops)
    loaded = live_views.load(tmp_path, tmp_path / "attribute_crops_64_area.npz", 64, rule, 2, p=0.3)
    assert sorted(f.name for f in tmp_path.glob("attribute_live_*")) == ["attribute_live_64_area_k2.npz"]
    assert loaded.p == 0.3 and np.array_equal(loaded.crops, live.crops)
