"""How often the edge detector finds a face in single-person photos (the face-attribute crops).

    python -m training.detection_rate [--data ../shared/data/face_attributes]

Reports the share found directly and after the still-photo retries (padding), per source group,
so the 99% goal of the detector is a measured figure, not a hope.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

import cv2

from edge.perceive.detect import BlazeFaceDetector, detect_still

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared/data/face_attributes"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--out", type=Path, help="write the per-image attempts as JSON here")
    args = ap.parse_args(argv)
    rows = list(csv.DictReader(open(args.data / "labels.csv")))
    det, far = BlazeFaceDetector("short", 1), BlazeFaceDetector("full", 1)
    how: Counter[str] = Counter()
    by_group: dict[str, Counter[str]] = {}
    per_image = {}
    for r in rows:
        img = cv2.imread(str(args.data / r["file"]))
        faces, attempt = detect_still(det, img, far)
        group = f"mask={r['mask']}"
        how[attempt] += 1
        by_group.setdefault(group, Counter())[attempt] += 1
        per_image[r["file"]] = attempt
    n = len(rows)
    found = n - how["none"]
    report = {"images": n, "found": found, "rate": round(found / n, 4),
              "direct": how["direct"], "after_retry": found - how["direct"], "attempts": dict(how),
              "by_group": {g: dict(c) for g, c in sorted(by_group.items())}}
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(per_image))
    return 0


if __name__ == "__main__":
    sys.exit(main())
