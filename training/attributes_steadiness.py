"""python -m training attributes-steadiness DIR...: a candidate attribute file's accuracy and
steadiness on val, beside the others (the measure itself is training/steadiness.py)."""
from __future__ import annotations

from training.steadiness import steadiness


def main(argv: list[str] | None = None) -> int:
    """python -m training attributes-steadiness DIR...: each models folder's int8 attribute file on
    val: accuracy per head, steadiness per head and the painted eyewear kinds (a candidate's
    scratch folder from `convert attributes --val-only` or models_tflite)."""
    import argparse
    import sys
    from pathlib import Path
    import numpy as np

    from edge.model_files import read_manifest
    from training.tflite_eval import run_tflite
    from edge.perceive.crop import CropRule
    from training import attributes as attr
    from training import eyewear_eval

    ap = argparse.ArgumentParser(prog="python -m training attributes-steadiness", description=main.__doc__.splitlines()[0])
    ap.add_argument("models", type=Path, nargs="+", help="folders with manifest.json and the attribute file")
    args = ap.parse_args(argv)
    print("| models | mask | eyewear | glasses shape | mean | steady mask | eyewear | shape | mean | painted kinds mean |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for folder in args.models:
        try:
            entry = read_manifest(folder)["attributes"]
        except (OSError, KeyError, ValueError) as e:
            print(f"error: {folder}: no attribute entry in its manifest ({e})", file=sys.stderr)
            return 2
        tfl, outputs = folder / entry["file"], {h: o["index"] for h, o in entry["outputs"].items()}
        data = attr.data_for(entry["input"]["size"][0], CropRule.from_manifest(entry["input"].get("crop", {})))
        x, y = data.x["val"], data.y["val"]

        def run(xu8: np.ndarray) -> dict[str, np.ndarray]:
            return run_tflite(tfl, attr.to_input(xu8).numpy(), outputs)

        ev = attr.evaluate_probs(run(x), y, data.group["val"])
        acc = [ev[h]["accuracy"] for h in attr.CLASSES]
        steady = steadiness(x, y, run)
        painted = eyewear_eval.synthetic(x, data.keypoints["val"], y["eyewear"], lambda xf: run_tflite(tfl, xf, outputs))
        kinds = ", ".join(f"{r['kind']} {r['correct']:.2f}" for r in painted)
        print(f"| {folder} | " + " | ".join(f"{a:.4f}" for a in acc) + f" | {np.mean(acc):.4f} | "
              + " | ".join(f"{steady[h]:.4f}" for h in attr.CLASSES) + f" | {steady['mean']:.4f} | "
              + f"{np.mean([r['correct'] for r in painted]):.4f} ({kinds}) |")
    return 0
