"""training/eyewear_photos.py: eyewear per kind read end to end the way analyze reads a photo, with a
photo whose face is not found counted as a miss. A small labelled set made of the demo portraits."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import DEMO

pytest.importorskip("torch")  # training.attributes (the data set's default place and splits)

REPO = DEMO.parents[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    import cv2

    root = tmp_path_factory.mktemp("attributes")
    (root / "images").mkdir()
    shutil.copy(DEMO / "grace_hopper.jpg", root / "images/hopper.jpg")
    shutil.copy(DEMO / "astronaut.png", root / "images/astronaut.png")
    cv2.imwrite(str(root / "images/wall.png"), np.full((200, 200, 3), 128, np.uint8))
    rows = [("images/hopper.jpg", "0", "clear_glasses", "val"), ("images/astronaut.png", "0", "none", "val"),
            ("images/wall.png", "1", "sunglasses", "val"),  # no face in it: a miss
            ("images/hopper.jpg", "0", "glasses_unknown", "val"),  # no bar names it: left out
            ("images/astronaut.png", "0", "sunglasses", "train")]  # another split
    with open(root / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "source_folder", "mask", "eyewear", "glasses_shape", "skin_group", "width", "height", "split"])
        for file, mask, eyewear, split in rows:
            w.writerow([file, "", mask, eyewear, "", "", 0, 0, split])
    return root


def test_photos_of_a_known_kind_in_the_split(data) -> None:
    from training.eyewear_photos import labelled_photos

    photos = labelled_photos(data, "val")
    assert [(p.path.name, p.kind) for p in photos] == [
        ("hopper.jpg", "clear_glasses"), ("astronaut.png", "none"), ("wall.png", "sunglasses")]


def test_each_kind_is_read_through_analyze_and_no_face_is_a_miss(data) -> None:
    from training.eyewear_photos import analyzer_for, by_kind, labelled_photos, read_eyewear

    photos = labelled_photos(data, "val")
    answers = read_eyewear(analyzer_for(REPO / "models_tflite"), photos)
    assert answers == ["glasses", "none", "no face"]
    rows = {r.kind: r for r in by_kind(photos, answers)}
    assert rows["clear_glasses"].right == 1.0 and rows["none"].right == 1.0
    assert rows["sunglasses"].right == 0.0 and rows["sunglasses"].answers["no face"] == 1


def test_the_command_prints_json_and_refuses_a_folder_without_a_manifest(data, tmp_path) -> None:
    run = [sys.executable, "-m", "training", "eyewear-photos", "--data", str(data)]
    r = subprocess.run([*run, "--json"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["models_tflite"]
    assert [(x["kind"], x["n"], x["right"]) for x in rows] == [("sunglasses", 1, 0.0), ("clear_glasses", 1, 1.0),
                                                              ("none", 1, 1.0)]
    r = subprocess.run([*run, "--models", str(tmp_path)], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert [line for line in r.stderr.splitlines() if line.startswith("error:")] == [
        f"error: --models {tmp_path}: no manifest.json there"]


def test_masks_are_read_end_to_end_and_no_face_is_a_miss(data, capsys) -> None:
    from training import mask_photos

    photos = mask_photos.labelled(data, "val")
    assert [(p.name, label) for p, label in photos] == [
        ("hopper.jpg", "no_mask"), ("astronaut.png", "no_mask"), ("wall.png", "mask"), ("hopper.jpg", "no_mask")]
    got = mask_photos.read(mask_photos.analyzer_for(REPO / "models_tflite"), photos)
    assert got["mask"] == {"mask": 0, "no_mask": 0, "no face": 1}
    assert got["no_mask"]["no_mask"] == 3
    assert mask_photos.main(["--data", str(data), "--models", str(REPO / "models_tflite")]) == 0
    assert "| mask | 1 | 0 | 0 | 1 | 0.000 |" in capsys.readouterr().out
