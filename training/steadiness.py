"""How steady the attribute heads are on val crops under the changes a visitor brings (issue 23).

The consistency check (`emoticon-mirror consistency`) pastes a few photos into frames and runs the
whole live path; this is its cheap counterpart on every val crop, for choosing between training
runs: each crop mirrored, under exposure x0.7 and x1.3, a warm and a cool light, and cut from a
small face (24 px, resampled up), and per head the share of (crop, change) pairs whose answer is the
plain crop's. The frame-shape head is judged on the crops labelled clear glasses or with a shape.
"""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

CHANGES = ("mirror", "exposure_0.7", "exposure_1.3", "warm", "cool", "far_24px")
CLEAR_GLASSES = 1  # training/attributes.py's eyewear code


def changed(x_uint8: np.ndarray, change: str) -> np.ndarray:
    """One of CHANGES applied to NHWC uint8 RGB crops."""
    x = x_uint8.astype(np.float32)
    if change == "mirror":
        return x_uint8[:, :, ::-1].copy()
    if change.startswith("exposure_"):
        x *= float(change.split("_")[1])
    elif change in ("warm", "cool"):
        gain = np.array([1.12, 1.0, 0.88] if change == "warm" else [0.88, 1.0, 1.12], np.float32)
        x *= gain
    elif change.startswith("far_"):
        side = int(change.split("_")[1].removesuffix("px"))
        h, w = x_uint8.shape[1:3]
        return np.stack([cv2.resize(cv2.resize(im, (side, side), interpolation=cv2.INTER_AREA), (w, h),
                                    interpolation=cv2.INTER_LINEAR) for im in x_uint8])
    else:
        raise ValueError(f"unknown change {change!r}; changes: {', '.join(CHANGES)}")
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def steadiness(x_uint8: np.ndarray, y: dict[str, np.ndarray],
               run: Callable[[np.ndarray], dict[str, np.ndarray]]) -> dict[str, float]:
    """Per head, the share of (crop, change) pairs answered as the plain crop is; `run` maps NHWC
    uint8 crops to probabilities per head."""
    plain = {h: p.argmax(1) for h, p in run(x_uint8).items()}
    rows = {"mask": np.ones(len(x_uint8), bool), "eyewear": np.ones(len(x_uint8), bool),
            "glasses_shape": (y["eyewear"] == CLEAR_GLASSES) | (y["glasses_shape"] >= 0)}
    same: dict[str, list[float]] = {h: [] for h in plain}
    for change in CHANGES:
        for h, p in run(changed(x_uint8, change)).items():
            sel = rows[h]
            same[h].append(float((p.argmax(1)[sel] == plain[h][sel]).mean()))
    out = {h: round(float(np.mean(v)), 4) for h, v in same.items()}
    out["mean"] = round(float(np.mean(list(out.values()))), 4)
    return out


def main(argv: list[str] | None = None) -> int:
    """python -m training attributes-steadiness DIR...: each models folder's int8 attribute file on
    val: accuracy per head, steadiness per head and the painted eyewear kinds (a candidate's
    scratch folder from `convert attributes --val-only` or models_tflite)."""
    import argparse
    import sys
    from pathlib import Path

    from convert import manifest
    from convert.int8 import run_tflite
    from edge.crop import CropRule
    from training import attributes as attr
    from training import eyewear_eval

    ap = argparse.ArgumentParser(prog="python -m training attributes-steadiness", description=main.__doc__.splitlines()[0])
    ap.add_argument("models", type=Path, nargs="+", help="folders with manifest.json and the attribute file")
    args = ap.parse_args(argv)
    print("| models | mask | eyewear | glasses shape | mean | steady mask | eyewear | shape | mean | painted kinds mean |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for folder in args.models:
        try:
            entry = manifest.read(folder / "manifest.json")["attributes"]
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
