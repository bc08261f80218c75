"""The colour of the light a face stands in, read from its own surroundings, for the skin tone.

Only the light's colour is taken from the surroundings, never its brightness: setting the brightest
part of the room to a fixed white made a dark face in a dim room read light and a light face beside a
white wall or in a white mask read dark, and it could do nothing for close-ups (no room in view). A
warm lamp, by contrast, turns every face darker on the tone index (b* rises), and the room shows it.
"""
from __future__ import annotations

import cv2
import numpy as np

from edge.perceive.crop import warp

# The light a face is measured under is read from its own surroundings: the square LIGHT_RING face
# widths wide around it, the faces themselves (each widened by FACE_MARGIN) left out, sampled at
# RING_PX x RING_PX whatever the face's size. The whole frame made the answer depend on how much of
# the frame the person filled and on what stood elsewhere in the room.
LIGHT_RING = 2.0  # wider, and a large face's square lay partly off the frame, so its light depended on where it stood
RING_PX = 48
FACE_MARGIN = 0.25
# A close-up is mostly face, hair and collar: "balancing" it pulls the skin itself toward grey and b*
# collapses. When less than this share of the ring is usable scene, the camera's own balance is kept.
MIN_BACKGROUND = 0.10
# Below this share the reading rests on a few pixels beside the face (a navy uniform, a flag). In the
# live loop such a face is read under the room's light as last measured around anybody with more
# room around them (SkinToneMeter): a visitor who walks up to the screen keeps the light seen while
# they approached.
RELIABLE_BACKGROUND = 0.25
SATURATED = 250  # a channel this bright was clipped by the camera: its value is a lower bound
START_PERCENTILE = 95  # where the search for grey starts (the brightest surfaces' colour)
LUMA_BGR = np.array([0.114, 0.587, 0.299], np.float32)
# Fewer near-grey pixels than this share of the brighter surroundings, and any "grey" found is a
# guess: on a backdrop of saturated colour blocks the search settled on one of them and moved faces
# two bands. Gains past GAIN_RANGE undo more than a lamp does.
MIN_NEUTRAL = 0.15
GAIN_RANGE = (0.6, 1.6)


def _grid_in_frame(m: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame coordinates (x, y) of every pixel of a size x size canvas made with the axis-aligned m."""
    u = np.arange(size, dtype=np.float32)
    xs, ys = (u - m[0, 2]) / m[0, 0], (u - m[1, 2]) / m[1, 1]
    return np.meshgrid(xs, ys)


def _ring_pixels(frame_bgr: np.ndarray, box: np.ndarray, cut: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Pixels of the square around one face at a fixed sampling, minus the frame's outside and
    every face in `cut`; and which share of the square they are."""
    side = LIGHT_RING * float(max(box[2], box[3], 1.0))
    k = RING_PX / side
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    m = np.array([[k, 0, RING_PX / 2 - k * cx], [0, k, RING_PX / 2 - k * cy]], np.float32)
    canvas = warp(frame_bgr, m, (RING_PX, RING_PX)).astype(np.float32)
    xs, ys = _grid_in_frame(m, RING_PX)
    h, w = frame_bgr.shape[:2]
    keep = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
    for b in cut:
        mx, my = FACE_MARGIN * b[2], FACE_MARGIN * b[3]
        keep &= ~((xs > b[0] - mx) & (xs < b[0] + b[2] + mx) & (ys > b[1] - my) & (ys < b[1] + b[3] + my))
    return canvas[keep], float(keep.mean())


def surroundings(frame_bgr: np.ndarray, exclude: list[np.ndarray] | None,
                 others: list[np.ndarray] | tuple = ()) -> tuple[np.ndarray, float]:
    """The pixels the light is read from (around the faces in `exclude`, all of them cut out; the
    whole frame with no face), and the mean share of each face's square they fill."""
    if not exclude:
        return cv2.resize(frame_bgr, (80, 60), interpolation=cv2.INTER_AREA).astype(np.float32).reshape(-1, 3), 1.0
    cut = [*exclude, *others]
    parts = [_ring_pixels(frame_bgr, box, cut) for box in exclude]
    return np.concatenate([p for p, _ in parts]), sum(share for _, share in parts) / len(parts)


def white_balance_gains(frame_bgr: np.ndarray, exclude: list[np.ndarray] | None = None,
                        others: list[np.ndarray] | tuple = ()) -> np.ndarray:
    """Per-channel gains (B, G, R) that make the neutral surfaces around the faces in `exclude` grey
    at their own brightness; with no face, the whole frame's. `others`: further faces, cut out of the
    surroundings but not measured around. Surroundings with too little scene keep gains of 1."""
    px, share = surroundings(frame_bgr, exclude, others)
    return balance(px) if share >= MIN_BACKGROUND else np.ones(3, np.float32)


def balance(px: np.ndarray) -> np.ndarray:
    """The colour gains the surroundings' pixels `px` call for, scaled to leave brightness alone.

    Plain grey world fails on a booth with one strongly coloured thing in view (an orange jacket
    turns every face green), so only pixels that are nearly grey under the current estimate vote,
    refined three times, starting from the colour of the brightest surfaces (a collar, a cap, a lit
    wall are nearly white), which moves with the light: a search from gains of 1 settled on Grace
    Hopper's light-blue backdrop under a warm lamp and doubled the cast. Clipped and near-black pixels
    do not vote, nor does the darker half (a navy suit under a warm lamp looks grey)."""
    px = px[(px.max(axis=1) < SATURATED) & (px.min(axis=1) > 10)]
    if len(px) < 30:
        return np.ones(3, np.float32)
    px = px[px.mean(axis=1) >= np.median(px.mean(axis=1))]
    top = np.percentile(px, START_PERCENTILE, axis=0)
    gains = (top.mean() / np.maximum(top, 1.0)).astype(np.float32)
    for _ in range(3):
        balanced = px * gains
        sat = (balanced.max(axis=1) - balanced.min(axis=1)) / np.maximum(balanced.max(axis=1), 1)
        neutral = px[sat < 0.25]
        if len(neutral) < max(30, MIN_NEUTRAL * len(px)):
            return np.ones(3, np.float32)  # no grey to go by (a poster wall, a crowd): the camera's balance
        means = neutral.mean(axis=0)
        gains = means.mean() / np.maximum(means, 1.0)
    gains = np.clip(gains / float(gains @ LUMA_BGR), *GAIN_RANGE)
    return (gains / float(gains @ LUMA_BGR)).astype(np.float32)
