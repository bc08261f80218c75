"""Pixel preprocessing named in the model manifest.

A model is only correct on the pixels it was trained on. The manifest names the transform by a
string, training and the edge both look it up here, so the two can never drift apart.
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

Preprocess = Callable[[np.ndarray], np.ndarray]


def equalize_clip(gray: np.ndarray) -> np.ndarray:
    """T = equalizeHist(clip(1.2 x)): the only FER2013 train copy we have was published this way, and
    the FER+ expression models are trained on it (training/ferplus.py)."""
    boosted = np.clip(gray.astype(np.float32) * 1.2, 0, 255).astype(np.uint8)
    return cv2.equalizeHist(np.ascontiguousarray(boosted))


def equalize(gray: np.ndarray) -> np.ndarray:
    """equalizeHist(x): the same as T wherever T's 1.2 boost clips nothing, since a histogram
    equalization does not see a gain. Where it clips - a face lit brighter than the training faces -
    T turned cheeks and teeth white before equalizing, and a smiling face read neutral under a 1.3x
    exposure; the mirror serves the expression model through this one (issue 23, training/README.md)."""
    return cv2.equalizeHist(np.ascontiguousarray(gray))


def identity(image: np.ndarray) -> np.ndarray:
    return image


PREPROCESS: dict[str, Preprocess] = {
    "equalizeHist(clip(1.2*x))": equalize_clip,
    "equalizeHist(x)": equalize,
    "none": identity,
}


def lookup(name: str) -> Preprocess:
    try:
        return PREPROCESS[name]
    except KeyError:
        raise ValueError(f"unknown preprocess {name!r}; known: {', '.join(PREPROCESS)}") from None
