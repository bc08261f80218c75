"""training/skin_tone_check.py: the mirror's own skin reading against coarse labels used as bounds,
painted masks and backdrops. A small labelled set made of the demo portraits and a blank wall."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import DEMO

pytest.importorskip("torch")  # training.attributes (the data set's default place)

REPO = DEMO.parents[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("skin")
    attrs, groups = root / "attributes", root / "skin_groups"
    for d in (attrs, groups):
        (d / "images").mkdir(parents=True)
        shutil.copy(DEMO / "grace_hopper.jpg", d / "images/hopper.jpg")
        shutil.copy(DEMO / "astronaut.png", d / "images/astronaut.png")
        cv2.imwrite(str(d / "images/wall.png"), np.full((200, 200, 3), 128, np.uint8))
    with open(attrs / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "source_folder", "mask", "eyewear", "glasses_shape", "skin_group", "width", "height", "split"])
        for file, group, split in [("images/hopper.jpg", "white", "val"), ("images/astronaut.png", "white", "val"),
                                   ("images/wall.png", "black", "val"),  # no face: counted as none
                                   ("images/astronaut.png", "white", "test")]:
            w.writerow([file, "", "0", "", "", group, 0, 0, split])
    with open(groups / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "group", "label_kind", "source_repo", "source_path", "mask", "pose", "person", "age", "gender"])
        w.writerow(["images/hopper.jpg", "White", "", "", "", "0", "0", "7", "", ""])
        w.writerow(["images/astronaut.png", "White", "", "", "", "1", "0", "7", "", ""])  # a "pair" of two people
        w.writerow(["images/wall.png", "Black", "", "", "", "", "", "", "", ""])
    return attrs, groups


def run(*args):
    return subprocess.run([sys.executable, "-m", "training", "skin-tone", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_the_check_counts_bounds_pairs_masks_and_backdrops(data):
    attrs, groups = data
    out = run("--data", attrs, "--skin-groups", groups, "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    photos = got["groups"]["photos"]
    assert sum(photos["white"].values()) == 2 and photos["black"] == {"none": 1}  # val only; the wall has no face
    # neither light-skinned portrait is shown medium-dark or dark; the astronaut reads medium-light
    # (Grace Hopper, rouge and a shadowed chin in an old photo, medium)
    assert got["photos:white:off"] == 0.0 and got["photos:white:own_half"] == 0.5
    assert got["pairs"]["n"] == 1
    assert set(got["painted"]) == {"white", "light_blue", "black", "red", "striped"}
    assert all(v["n"] + v["none"] == 2 for v in got["painted"].values())  # each portrait with each mask
    assert got["scenes"]["warm"]["within_one"] == 1.0
    assert all(v["n"] + v["none"] == 2 for v in got["scenes"].values())


def test_a_painted_mask_covers_the_lower_face_and_nothing_else():
    from edge.perceive.detect import BlazeFaceDetector
    from edge.perceive.landmarks import FaceMesh
    from training.skin_tone_check import paint_mask

    image = cv2.imread(str(DEMO / "grace_hopper.jpg"))
    face = BlazeFaceDetector("short", 1).detect(image)[0]
    points = FaceMesh(1)(image, face).points
    painted = paint_mask(image, points, "red")
    changed = np.any(painted != image, axis=2)
    ys, xs = np.nonzero(changed)
    eyes_y = points[[33, 263], 1].mean()
    assert ys.min() > eyes_y and ys.max() <= points[152, 1] + 1  # below the eyes, not below the chin
    assert (painted[changed] == (40, 40, 200)).all()


def test_missing_labels_are_one_line_and_exit_2(tmp_path):
    out = run("--data", tmp_path)
    assert out.returncode == 2 and out.stdout.strip().startswith("error: no labels.csv") and "Traceback" not in out.stderr
