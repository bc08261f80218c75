"""The demo acts: Grace Hopper's portrait warped into what blendshape motion follows, so the whole
path (mesh, blendshapes, rig) can be seen and recorded without a camera or an actor.

Each act moves a few anchor points of her face (found once with the 478-point mesh, in her own
pixels) by a smooth Gaussian displacement field; the raised brow stretches only the skin between
brow and lid. Measured through our mesh and MediaPipe's blendshape
model: the raised brow reads browOuterUpLeft +0.28, the pucker mouthPucker 1.0, the half smile
mouthSmileRight +0.41. Puffed cheeks are a known blind spot of the released blendshape model
(google-ai-edge/mediapipe issue 4436: cheekPuff stays near 0), so edge/perceive/blendshapes.py measures the
cheeks' width from the mesh as well; the act widens her lower cheeks with closed, pushed lips.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

# Grace Hopper (assets/demo/grace_hopper.jpg), from the 478-point mesh: her own left brow (inner,
# outer), mouth corners (her right, left), lower cheeks (right, left); eye-corner distance 114.9 px.
HOPPER = {"brow_l": (319.4, 158.9), "brow_l_out": (339.1, 168.8), "mouth_r": (234.3, 279.2),
          "mouth_l": (301.9, 277.0), "cheek_r": (187.5, 273.4), "cheek_l": (345.1, 265.4),
          "lips": (267.1, 279.9), "chin": (270.4, 334.5), "lid_l": (307.5, 179.0)}
IOD = 114.9
# name -> [(anchor, displacement in eye distances, reach in eye distances)]
ACTS = {
    "pucker": [("mouth_r", (0.22, 0.0), 0.14), ("mouth_l", (-0.22, 0.0), 0.14)],
    "puff": [("cheek_r", (-0.25, 0.0), 0.35), ("cheek_l", (0.25, 0.0), 0.35),
             ("mouth_r", (0.15, 0.0), 0.12), ("mouth_l", (-0.15, 0.0), 0.12)],
    "half_smile": [("mouth_r", (-0.08, -0.14), 0.12)],
}
# (start s, duration s, act) within the acting segment; each eases in and out. A wink (the demo's
# painted eye) follows at WINK.
SCRIPT = ((0.2, 0.8, "brow_up"), (1.1, 0.8, "pucker"), (2.0, 0.8, "puff"), (2.9, 0.8, "half_smile"))
WINK = (3.9, 0.45)


def act(image: np.ndarray, name: str, amount: float) -> np.ndarray:
    """The portrait with one act at `amount` (0 = as photographed, 1 = full)."""
    if amount <= 0:
        return image
    moves = [(HOPPER[a], (dx * IOD * amount, dy * IOD * amount), reach * IOD) for a, (dx, dy), reach in ACTS[name]]
    pad = max(r for _, _, r in moves) * 3
    xs_a = [c[0] for c, _, _ in moves]
    ys_a = [c[1] for c, _, _ in moves]
    h, w = image.shape[:2]
    x0, x1 = int(max(0, min(xs_a) - pad)), int(min(w, max(xs_a) + pad))
    y0, y1 = int(max(0, min(ys_a) - pad)), int(min(h, max(ys_a) + pad))
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = np.zeros_like(xs), np.zeros_like(ys)
    for (cx, cy), (vx, vy), s in moves:
        g = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * s * s))
        dx += vx * g
        dy += vy * g
    out = image.copy()
    out[y0:y1, x0:x1] = cv2.remap(image, xs - dx, ys - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return out


def open_mouth(image: np.ndarray, amount: float) -> np.ndarray:
    """The portrait with her jaw dropped (amount 1: by 0.45 eye distances, jawOpen about 0.5 through
    our mesh). A Gaussian shift cannot open lips."""
    if amount <= 0:
        return image
    return drop_jaw(image, HOPPER["lips"][1], HOPPER["mouth_r"][0], HOPPER["mouth_l"][0], HOPPER["chin"][1],
                    0.45 * IOD * amount)


def drop_jaw(image: np.ndarray, lip_y: float, left: float, right: float, chin: float, px: float) -> np.ndarray:
    """Any face with its jaw dropped by px: everything below the lip line and between the mouth
    corners (x left..right) moves down, fading out to the sides and below the chin, and the gap is a
    dark mouth."""
    h, w = image.shape[:2]
    half = (right - left) * 0.9
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    across = np.clip(1 - np.abs(xs - (left + right) / 2) / half, 0, 1) ** 0.5
    down = np.clip(1 - (ys - chin) / (0.6 * (chin - lip_y)), 0, 1) * (ys > lip_y)
    dy = px * across * down
    out = cv2.remap(image, xs, (ys - dy).astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    out[(ys > lip_y) & (ys < lip_y + dy * 0.9) & (across > 0.35)] = (40, 30, 60)
    return out


def raise_brow(image: np.ndarray, amount: float) -> np.ndarray:
    """The portrait with her left brow lifted (amount 1: by 0.13 eye distances) and her eye left where
    it is: only the skin between the brow and the upper lid stretches, as it does on a face. The
    Gaussian shift of the brow also drags the eye up, which the mesh's eye check reads as a closing eye."""
    if amount <= 0:
        return image
    h, w = image.shape[:2]
    px = 0.13 * IOD * amount
    (bx, by), lid = HOPPER["brow_l"], HOPPER["lid_l"][1]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    across = np.exp(-((xs - bx - 0.1 * IOD) ** 2) / (2 * (0.3 * IOD) ** 2))
    above = np.exp(-((np.minimum(ys, by) - by) / (0.4 * IOD)) ** 2)  # fades out up the forehead
    ramp = np.where(ys <= by, above, np.clip((lid - ys) / (lid - by), 0, 1))  # ... and down to the lid
    dy = px * across * ramp
    return cv2.remap(image, xs, (ys + dy).astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def scripted(image: np.ndarray, seconds: float) -> np.ndarray:
    """The portrait at this moment of the script."""
    for start, dur, name in SCRIPT:
        if start <= seconds < start + dur:
            amount = math.sin(math.pi * (seconds - start) / dur) ** 0.5
            # the brow is lifted with her eye left in place: a Gaussian shift drags the eye up with it,
            # which the mesh reads as that eye closing (a wink where only a brow should move)
            return raise_brow(image, amount) if name == "brow_up" else act(image, name, amount)
    return image
