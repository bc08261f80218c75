"""Eyewear per kind, end to end on the labelled photos, read the way unseen photos are scored outside
the project (`emoticon-mirror analyze`): the still-photo detector path, the crop, the classifiers.

    python -m training eyewear-photos                       # val, models_tflite
    python -m training eyewear-photos --models models_tflite /tmp/cand_l6 --json

The crop-level figures (`training/reports/attributes.md`) leave out the photos where no face is found;
a visitor whose face is not found gets no glasses either, so here such a photo is a miss ("no face").
Issue 20's bars are per kind: sunglasses read as sunglasses, clear glasses as glasses, none as none.
Val by default; test is for the one chosen model, once (the same rule as everywhere here).
"""
from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from training.attributes import DEFAULT_DATA, SPLITS

KINDS = {"sunglasses": "sunglasses", "clear_glasses": "glasses", "none": "none"}  # label -> right answer
ANSWERS = ("none", "glasses", "sunglasses", "no face")


@dataclass
class Photo:
    path: Path
    kind: str  # one of KINDS


@dataclass
class KindRow:
    kind: str
    n: int
    answers: dict[str, int]  # ANSWERS -> photos

    @property
    def right(self) -> float:
        return self.answers.get(KINDS[self.kind], 0) / self.n if self.n else float("nan")


def labelled_photos(data: Path, split: str) -> list[Photo]:
    """The split's photos whose eyewear kind is known (glasses of unknown kind are left out: no bar
    names them)."""
    labels = data / "labels.csv"
    if not labels.is_file():
        raise FileNotFoundError(f"no labels.csv in {data} (the face-attribute data set, see ../shared/data/README.md)")
    with open(labels, newline="") as f:
        return [Photo(data / r["file"], r["eyewear"])
                for r in csv.DictReader(f) if r["split"] == split and r["eyewear"] in KINDS]


def read_eyewear(analyzer, photos: list[Photo]) -> list[str]:
    """The largest face's eyewear label per photo (analyze lists faces largest first), or "no face"."""
    out = []
    for p in photos:
        faces = analyzer.analyze_path(p.path).get("faces") or []
        out.append(faces[0]["eyewear"]["label"] if faces and "eyewear" in faces[0] else "no face")
    return out


def by_kind(photos: list[Photo], answers: list[str]) -> list[KindRow]:
    rows = []
    for kind in KINDS:
        got = Counter(a for p, a in zip(photos, answers) if p.kind == kind)
        rows.append(KindRow(kind, sum(got.values()), {a: got.get(a, 0) for a in ANSWERS}))
    return rows


def markdown(tables: dict[str, list[KindRow]]) -> str:
    lines = ["| models | eyewear (label) | n | " + " | ".join(f"read {a}" for a in ANSWERS) + " | right |",
             "|---|---|---|" + "---|" * len(ANSWERS) + "---|"]
    for models, rows in tables.items():
        for r in rows:
            lines.append(f"| {models} | {r.kind} | {r.n} | " + " | ".join(str(r.answers[a]) for a in ANSWERS)
                         + f" | {r.right:.3f} |")
    return "\n".join(lines)


def analyzer_for(models: Path):
    from edge import build
    from edge.commands.analyze import Analyzer
    from edge.config import from_dict

    from edge.runtime import ModelError

    cfg = from_dict({"classify": {"models_dir": str(models)}, "detector": {"threads": 1}})
    try:
        perception = build.perception(cfg, still=True)
    except ModelError as e:
        raise ValueError(f"{models}: {e}") from None
    if "eyewear" not in perception.classifiers.heads:
        raise ValueError(f"{models}: no attribute model in its manifest")
    return Analyzer(perception)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training eyewear-photos", description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, nargs="+", default=[Path("models_tflite")],
                    help="models folders (each with a manifest.json), scored side by side")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--split", choices=SPLITS, default="val")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of the markdown table")
    args = ap.parse_args(argv)
    for m in args.models:
        if not (m / "manifest.json").is_file():
            raise ValueError(f"--models {m}: no manifest.json there")
    photos = labelled_photos(args.data, args.split)
    tables = {str(m): by_kind(photos, read_eyewear(analyzer_for(m), photos)) for m in args.models}
    if args.json:
        print(json.dumps({m: [{"kind": r.kind, "n": r.n, "answers": r.answers, "right": round(r.right, 4)}
                              for r in rows] for m, rows in tables.items()}))
    else:
        print(f"{args.split}: {len(photos)} photos with a known eyewear kind, end to end (analyze's path)\n")
        print(markdown(tables))
    return 0
