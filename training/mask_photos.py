"""Masks end to end on labelled photos, read the way `emoticon-mirror analyze` reads them (the
still-photo detector path, the crop, the classifiers); a photo where no face is found is a miss.

    python -m training mask-photos                                   # the three labelled sets, val
    python -m training mask-photos --data ../shared/data/eyewear_wild --split val --json

Sets without a split column (skin_groups' masked/unmasked pairs) are read whole. The outside bar
is per set: masked photos read "mask" >= 98% with no-face counted wrong.
"""
from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from pathlib import Path

from training.attribute_data import SHARED
from training.eyewear_photos import analyzer_for

DEFAULT_SETS = [SHARED / "face_attributes", SHARED / "eyewear_wild", SHARED / "skin_groups"]
ANSWERS = ("mask", "no_mask", "no face")


def labelled(data: Path, split: str) -> list[tuple[Path, str]]:
    """(photo, "mask" or "no_mask") for each row with a mask label in the split (every row where the
    set has no splits)."""
    labels = data / "labels.csv"
    if not labels.is_file():
        raise FileNotFoundError(f"no labels.csv in {data}")
    with open(labels, newline="") as f:
        rows = list(csv.DictReader(f))
    return [(data / r["file"], "mask" if r["mask"] == "1" else "no_mask") for r in rows
            if r.get("mask") in ("0", "1") and r.get("split", split) == split]


def read(analyzer, photos: list[tuple[Path, str]]) -> dict[str, dict[str, int]]:
    """label -> answer -> photos."""
    out: dict[str, Counter] = {"mask": Counter(), "no_mask": Counter()}
    for path, label in photos:
        faces = analyzer.analyze_path(path).get("faces") or []
        out[label][faces[0]["mask"]["label"] if faces and "mask" in faces[0] else "no face"] += 1
    return {label: {a: got.get(a, 0) for a in ANSWERS} for label, got in out.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training mask-photos", description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, nargs="+", default=DEFAULT_SETS, help="labelled sets (labels.csv each)")
    ap.add_argument("--models", type=Path, default=Path("models_tflite"))
    ap.add_argument("--split", choices=("train", "val", "test"), default="val")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    analyzer = analyzer_for(args.models)
    tables = {str(d): read(analyzer, labelled(d, args.split)) for d in args.data}
    if args.json:
        print(json.dumps(tables))
        return 0
    print(f"{args.split}: masks end to end (analyze's path), a photo with no face a miss\n")
    print("| set | label | n | " + " | ".join(f"read {a}" for a in ANSWERS) + " | right |")
    print("|---|---|---|" + "---|" * len(ANSWERS) + "---|")
    for name, rows in tables.items():
        for label, got in rows.items():
            n = sum(got.values())
            right = f"{got[label] / n:.3f}" if n else "-"
            print(f"| {Path(name).name} | {label} | {n} | " + " | ".join(str(got[a]) for a in ANSWERS) + f" | {right} |")
    return 0
