"""training/steadiness.py: the changes are the ones named, and steadiness counts answers that move.

Runs the committed attribute model on Grace Hopper's crop; needs the training extras (torch) only
for the crop rule's module.
"""
from __future__ import annotations

import numpy as np
import pytest

from edge.perceive.crop import crop_face

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def crops(portraits, detector) -> np.ndarray:
    from training.attributes import CROP

    out = []
    for name in ("grace_hopper.jpg", "astronaut.png"):
        img = portraits[name]
        out.append(crop_face(img, detector.detect(img)[0], CROP, (64, 64), "rgb"))
    return np.stack(out)


def test_changes_mirror_expose_cast_and_blur(crops) -> None:
    from training.steadiness import CHANGES, changed

    assert np.array_equal(changed(crops, "mirror")[:, :, ::-1], crops)
    assert changed(crops, "exposure_1.3").mean() > crops.mean() > changed(crops, "exposure_0.7").mean()
    warm = changed(crops, "warm").astype(float)
    assert warm[..., 0].mean() > crops[..., 0].mean() and warm[..., 2].mean() < crops[..., 2].mean()
    far = changed(crops, "far_24px")
    assert far.shape == crops.shape and np.abs(np.diff(far.astype(float), axis=2)).mean() < np.abs(
        np.diff(crops.astype(float), axis=2)).mean()
    with pytest.raises(ValueError):
        changed(crops, "sepia")
    assert len(CHANGES) == 6


def test_an_answer_that_ignores_the_picture_is_steady_and_one_that_follows_the_light_is_not(crops) -> None:
    from training.steadiness import steadiness

    y = {"eyewear": np.array([1, 0]), "glasses_shape": np.array([0, -1])}
    fixed = lambda x: {h: np.tile([[0.9, 0.1]], (len(x), 1)) for h in ("mask", "eyewear", "glasses_shape")}  # noqa: E731
    assert steadiness(crops, y, fixed)["mean"] == 1.0

    def by_light(x):
        bright = (x.mean(axis=(1, 2, 3)) > crops.mean(axis=(1, 2, 3)) + 5)[:, None]
        p = np.where(bright, [0.1, 0.9], [0.9, 0.1])
        return {"mask": p, "eyewear": p, "glasses_shape": p}

    s = steadiness(crops, y, by_light)
    assert s["mask"] == pytest.approx(5 / 6, abs=1e-4)  # only x1.3 moves it, on both faces
    assert s["glasses_shape"] == pytest.approx(5 / 6, abs=1e-4)  # judged on Grace Hopper's glasses only


def test_the_committed_model_is_steady_on_the_demo_faces_under_mirror_and_light(crops) -> None:
    from training.tflite_eval import run_tflite
    from convert.manifest import read
    from training.attributes import to_input
    from training.steadiness import steadiness

    models = __import__("pathlib").Path(__file__).resolve().parents[2] / "models_tflite"
    entry = read(models / "manifest.json")["attributes"]
    outputs = {h: o["index"] for h, o in entry["outputs"].items()}
    s = steadiness(crops, {"eyewear": np.array([1, 0]), "glasses_shape": np.array([-1, -1])},
                   lambda x: run_tflite(models / entry["file"], to_input(x).numpy(), outputs))
    assert s["mask"] == 1.0 and s["eyewear"] >= 5 / 6
