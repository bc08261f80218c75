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


def test_doctor_says_whether_a_calibration_is_in_use_how_old_and_if_the_camera_left_its_settings(tmp_path):
    import json

    from edge.commands import doctor
    from edge.commands.calibrate import run
    from edge.config import Config
    from fakes import FakeCamera, booth_frame

    cfg = Config()
    cfg.source.input, cfg.source.calibration = "picamera", str(tmp_path / "calibration.json")
    assert doctor._calibration(cfg).what.startswith("skin tone: no grey-card calibration")
    card = lambda n: booth_frame("neutral", card=0.18)  # noqa: E731
    run(cfg, frames=3, settle_s=0.0, opener=lambda spec, c: FakeCamera(card), out=lambda line: None)

    check = doctor._calibration(cfg, opener=lambda spec, c, cal: FakeCamera(card))
    assert check.status == "ok" and "made 0 days ago" in check.what and "in use" in check.what
    moved = {"ExposureTime": 20000, "AnalogueGain": 1.5, "ColourGains": (1.9, 1.4)}
    check = doctor._calibration(cfg, opener=lambda spec, c, cal: FakeCamera(card, settings=moved))
    assert check.status == "warn" and "ExposureTime 20000 (calibrated 12000)" in check.what
    assert "AnalogueGain" not in check.what

    data = json.loads((tmp_path / "calibration.json").read_text())
    data["made"] -= 40 * 86400
    (tmp_path / "calibration.json").write_text(json.dumps(data))
    assert "made 40 days ago" in doctor._calibration(cfg, opener=lambda spec, c, cal: FakeCamera(card)).what
    cfg.source.width = 1280
    check = doctor._calibration(cfg)
    assert check.status == "warn" and "not used" in check.what and "640x480" in check.what
    (tmp_path / "calibration.json").write_text("{")
    check = doctor._calibration(cfg)
    assert check.status == "warn" and "not a calibration file" in check.what
