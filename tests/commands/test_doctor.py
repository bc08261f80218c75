"""doctor: what is missing or broken, each with how to fix it."""
from __future__ import annotations

import shutil


def test_a_corrupt_blendshape_model_fails_the_doctor_naming_the_file(tmp_path, monkeypatch):
    """It was a log warning and "0 failed": the mirror runs on without blendshapes, the exhibitor
    never hears of it."""
    from conftest import REPO

    from edge.commands import doctor
    from edge.config import Config
    from edge.model_files import manifest_model
    from edge.perceive import blendshapes

    models = tmp_path / "models"
    shutil.copytree(REPO / "models_tflite", models)
    (models / "face_blendshapes.tflite").write_bytes(b"garbage")
    monkeypatch.setattr(blendshapes, "manifest_model", lambda name: manifest_model(name, models))
    check = doctor._blendshapes(Config())
    assert check.status == "FAIL" and "face_blendshapes.tflite" in check.what and "sha256" in check.what
    monkeypatch.undo()
    assert doctor._blendshapes(Config()).status == "ok"  # the committed one
