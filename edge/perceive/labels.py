"""Which label a head shows, from its probabilities: one rule for the live loop (smoothed, with the
label shown so far) and for a photo (`analyze`, the consistency check).

A label changes only when another class clearly wins (HYSTERESIS), so an emoticon does not flip
between sad and neutral five times a second. Some heads are shown only when they are sure: frames
that are neither round nor rectangular (cat-eye, browline, aviator) sit between the two classes the
frame-shape model knows, and flipping between round and rectangular lenses is worse than a plain
frame. Below UNSURE_BELOW the emoticon wears the plain version (PLAIN).
"""
from __future__ import annotations

import numpy as np

HYSTERESIS = 0.08  # a new label must beat the shown one by this much probability
# head -> the probability its answer needs to be shown. 0.70 for the frame shape was chosen on val
# (training/reports/consistency.md): the lowest share of round/rectangular flips on the cat-eye
# frames (Grace Hopper's, eyewear_wild's "other") among the thresholds that keep the 72 labelled
# val faces' shape agreement at 0.97 or more.
UNSURE_BELOW = {"glasses_shape": 0.70}
PLAIN, PLAIN_NAME = -1, "plain"  # the label index and name shown while such a head is unsure


def pick(head: str, probs: np.ndarray, shown: int | None = None) -> int:
    """The index to show (PLAIN for an unsure head), given the one shown so far (None: a first look)."""
    best = int(np.argmax(probs))
    sure = UNSURE_BELOW.get(head)
    if sure is not None:
        if shown is None:
            return best if probs[best] >= sure else PLAIN
        if shown == PLAIN or shown >= len(probs):
            return best if probs[best] >= sure + HYSTERESIS / 2 else PLAIN
        if probs[shown] < sure - HYSTERESIS / 2 and probs[best] < sure + HYSTERESIS / 2:
            return PLAIN
    if shown is None or shown == PLAIN or shown >= len(probs) or probs[best] > probs[shown] + HYSTERESIS:
        return best
    return shown


def name(classes: list[str], index: int) -> str:
    return PLAIN_NAME if index == PLAIN else classes[index]
