"""models_tflite/manifest.json: one JSON object keyed by model name, the edge's only source of truth.

The edge trusts the manifest for everything it cannot read from the .tflite itself (class order,
which output is which head, crop rule, pixel transform), so an entry is written from the file on
disk (sha256, bytes) at the moment it is produced, and `verify` catches a file swapped afterwards.
Entries are merged, never replaced wholesale: converting one model must not drop another's entry.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge.model_files import sha256_file, write_manifest_entry as write_entry  # noqa: F401 (convert's callers)


def read(manifest_path: str | Path) -> dict[str, dict[str, Any]]:
    """The whole manifest; {} when there is none yet."""
    path = Path(manifest_path)
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object keyed by model name")
    return data


def verify(manifest_path: str | Path) -> list[str]:
    """Problems found, one line each; [] means every entry's file is there and unchanged."""
    manifest_path = Path(manifest_path)
    if not manifest_path.exists():
        return [f"{manifest_path}: missing"]
    try:
        data = read(manifest_path)
    except (OSError, ValueError) as e:
        return [f"{manifest_path}: unreadable ({e})"]
    problems: list[str] = []
    for name, entry in sorted(data.items()):
        if not isinstance(entry, dict) or "file" not in entry:
            problems.append(f"{name}: entry has no 'file'")
            continue
        path = manifest_path.parent / entry["file"]
        if not path.is_file():
            problems.append(f"{name}: file {entry['file']} missing")
            continue
        size = path.stat().st_size
        if "bytes" in entry and entry["bytes"] != size:
            problems.append(f"{name}: {entry['file']} is {size} bytes, manifest says {entry['bytes']}")
        digest = sha256_file(path)
        if entry.get("sha256") != digest:
            problems.append(f"{name}: {entry['file']} sha256 {digest[:12]}... != manifest {str(entry.get('sha256'))[:12]}...")
    return problems


@dataclass
class InputSpec:
    """The manifest's "input" block: everything the edge does to a crop before the model sees it."""

    size: tuple[int, int]  # (height, width)
    color: str  # "gray" or "rgb"
    pixel_scale: float  # model input = pixel * pixel_scale + pixel_offset
    pixel_offset: float
    preprocess: str  # a name in edge.perceive.preprocess.PREPROCESS
    crop: dict[str, Any]
    layout: str = "NHWC"
    dtype: str = "int8"
    quantization: dict[str, float] = field(default_factory=dict)  # the input tensor's scale/zero_point

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"] = list(self.size)
        if not self.quantization:
            d.pop("quantization")
        return d
