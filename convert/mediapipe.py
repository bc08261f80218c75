"""Commit MediaPipe's Face Landmarker models: face_landmarker.task -> models_tflite/ + manifest entries.

    python -m convert mediapipe --task ../shared/models/face_landmarker.task

The .task is a zip; the 478-point mesh (irises included) and the 52-blendshape model are taken out
unchanged, and their manifest entries record origin, licence and checksum, so the edge loads them
like every other model (by manifest name, checked by sha256) and nothing is downloaded at run time.
"""
from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

from convert import manifest

ORIGIN = ("Google MediaPipe Face Landmarker (face_landmarker/float16/1/face_landmarker.task, sha256 "
          "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff), taken out of the .task unchanged")
LICENCE = "Apache-2.0 (MediaPipe models)"
MODELS = {
    "face_mesh_478": ("face_landmarks_detector.tflite", {
        "what": "FaceMesh V2: 478 points (468 + both irises) as x, y, z in the 256x256 crop's pixels; "
                "output 1 is a face-presence logit",
        "input": {"size": [256, 256], "color": "rgb", "pixel_scale": 1 / 255, "pixel_offset": 0.0,
                  "dtype": "float32", "crop": {"kind": "eyes_aligned", "scale": 1.5, "shift_y": 0.0}}}),
    "blendshapes": ("face_blendshapes.tflite", {
        "what": "52 ARKit-named blendshape scores in [0, 1] from x, y of 146 of the 478 mesh points in image "
                "pixels (indices and output order: MediaPipe face_blendshapes_graph.cc; edge/perceive/blendshapes.py)",
        "input": {"size": [146, 2], "dtype": "float32"}}),
}


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--task", type=Path, default=Path(__file__).resolve().parents[2] / "shared/models/face_landmarker.task")
    ap.add_argument("--out", type=Path, default=Path("models_tflite"))


def run(args: argparse.Namespace) -> int:
    try:
        z = zipfile.ZipFile(args.task)
    except (OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"{args.task}: not a MediaPipe .task ({e})") from None
    for name, (member, info) in MODELS.items():
        target = args.out / member
        target.write_bytes(z.read(member))
        stored = manifest.write_entry(args.out / "manifest.json", name,
                                      {"file": member, "origin": ORIGIN, "licence": LICENCE, **info})
        print(f"{name}: {stored['file']} {stored['bytes']} bytes sha256 {stored['sha256']}")
    return 0
