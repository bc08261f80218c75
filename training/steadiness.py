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
