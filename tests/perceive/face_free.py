"""Face-free images, generated: what a still photo's retries and the live detector must never call a
face. Textures, rooms, printed shirts on torsos, hands; skin-coloured and face-sized things among
them (the cases a lowered retry threshold could take for a masked face).

Deterministic (one seed per image), 320-640 px, BGR uint8.
"""
from __future__ import annotations

import cv2
import numpy as np

SKINS = [(205, 220, 245), (150, 180, 225), (95, 135, 190), (60, 90, 140), (40, 60, 95)]  # BGR, light to dark
CLOTH = [(40, 40, 40), (230, 230, 230), (60, 60, 160), (150, 90, 30), (40, 120, 40), (200, 200, 60)]


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(1000 + seed)


def _blur_noise(rng, h, w, scale, sigma) -> np.ndarray:
    small = rng.normal(0, 1, (max(2, h // scale), max(2, w // scale))).astype(np.float32)
    n = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(n, (0, 0), sigma) if sigma else n


def texture(seed: int) -> np.ndarray:
    rng = _rng(seed)
    h, w = 480, 480
    kind = seed % 5
    base = np.array(rng.integers(40, 220, 3), np.float32)
    if kind == 0:  # noise
        img = base + 60 * _blur_noise(rng, h, w, 4, 1)[..., None]
    elif kind == 1:  # stripes
        y = np.arange(h)[:, None, None]
        img = base + 70 * np.sign(np.sin(y / rng.uniform(6, 30))) * np.ones((1, w, 3))
    elif kind == 2:  # checker
        s = int(rng.integers(20, 80))
        yy, xx = np.mgrid[:h, :w]
        img = base + 80 * (((yy // s) + (xx // s)) % 2 * 2 - 1)[..., None]
    elif kind == 3:  # wood grain
        yy, xx = np.mgrid[:h, :w].astype(np.float32)
        g = np.sin((xx + 25 * _blur_noise(rng, h, w, 40, 0)) / 7)
        img = np.array([40, 90, 150], np.float32) + 35 * g[..., None]
    else:  # brick
        img = np.full((h, w, 3), (60, 80, 160), np.float32)
        for r, y in enumerate(range(0, h, 40)):
            cv2.line(img, (0, y), (w, y), (200, 200, 200), 4)
            for x in range((r % 2) * 45, w, 90):
                cv2.line(img, (x, y), (x, y + 40), (200, 200, 200), 4)
        img += 15 * _blur_noise(rng, h, w, 2, 0)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def room(seed: int) -> np.ndarray:
    """A wall, a floor, a window, shelves with boxes and round things."""
    rng = _rng(seed)
    h, w = 480, 640
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = rng.integers(120, 230, 3)
    floor = int(h * rng.uniform(0.6, 0.8))
    img[floor:] = rng.integers(40, 140, 3)
    x0 = int(rng.integers(20, w // 2))
    cv2.rectangle(img, (x0, 40), (x0 + 180, 220), (235, 220, 200), -1)
    cv2.line(img, (x0 + 90, 40), (x0 + 90, 220), (90, 90, 90), 6)
    cv2.line(img, (x0, 130), (x0 + 180, 130), (90, 90, 90), 6)
    for _ in range(12):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        x, y = int(rng.integers(0, w - 60)), int(rng.integers(0, floor))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(20, 90)), y + int(rng.integers(20, 90))), c, -1)
        else:
            cv2.circle(img, (x, y), int(rng.integers(8, 40)), c, -1)
    return cv2.GaussianBlur(img, (3, 3), 0)


def _torso(img: np.ndarray, rng, colour, top: int) -> tuple[int, int, int]:
    h, w = img.shape[:2]
    cx = w // 2 + int(rng.integers(-40, 40))
    shoulders = int(w * rng.uniform(0.55, 0.8))
    pts = np.array([[cx - shoulders // 2, top + 40], [cx - shoulders // 4, top], [cx + shoulders // 4, top],
                    [cx + shoulders // 2, top + 40], [cx + shoulders // 2 + 20, h], [cx - shoulders // 2 - 20, h]],
                   np.int32)
    cv2.fillPoly(img, [pts], colour)
    return cx, shoulders, top


def shirt(seed: int) -> np.ndarray:
    """A torso in a shirt, cut at the neck (no head in the photo), with a print on the chest."""
    rng = _rng(seed)
    h, w = 520, 480
    img = np.full((h, w, 3), rng.integers(150, 240, 3), np.uint8)
    skin = SKINS[seed % len(SKINS)]
    cx, shoulders, top = _torso(img, rng, CLOTH[seed % len(CLOTH)], 90)
    cv2.rectangle(img, (cx - 35, 0), (cx + 35, top + 10), skin, -1)  # the neck
    cv2.ellipse(img, (cx, top + 5), (45, 25), 0, 0, 180, skin, -1)  # the neckline
    kind = seed % 4
    ink = tuple(int(v) for v in rng.integers(0, 255, 3))
    if kind == 0:  # a logo of circles and a bar
        cv2.circle(img, (cx - 40, 260), 30, ink, -1)
        cv2.circle(img, (cx + 40, 260), 30, ink, -1)
        cv2.rectangle(img, (cx - 60, 320), (cx + 60, 340), ink, -1)
    elif kind == 1:  # text
        for i, word in enumerate(("MIRROR", "2026", "EXPO")):
            cv2.putText(img, word, (cx - 110, 240 + 60 * i), cv2.FONT_HERSHEY_DUPLEX, 1.6, ink, 4)
    elif kind == 2:  # stripes across
        for y in range(top + 60, h, 36):
            cv2.rectangle(img, (0, y), (w, y + 14), ink, -1)
        img[:top] = rng.integers(150, 240, 3)
        cv2.rectangle(img, (cx - 35, 0), (cx + 35, top + 10), skin, -1)
    else:  # a face-sized, skin-coloured planet with a ring (an oval with two dots on it is a drawn face:
        # BlazeFace and the mesh both take it for one, and so would a visitor)
        cv2.ellipse(img, (cx, 290), (70, 85), 0, 0, 360, SKINS[(seed + 2) % len(SKINS)], -1)
        cv2.ellipse(img, (cx, 290), (120, 22), -15, 0, 360, ink, 6)
    return img


def hand(seed: int) -> np.ndarray:
    """An open hand or a fist in front of a wall, face-sized."""
    rng = _rng(seed)
    h, w = 480, 480
    img = np.full((h, w, 3), rng.integers(60, 230, 3), np.uint8)
    skin = SKINS[seed % len(SKINS)]
    cx, cy = w // 2 + int(rng.integers(-60, 60)), h // 2 + int(rng.integers(0, 60))
    cv2.ellipse(img, (cx, cy), (80, 95), 0, 0, 360, skin, -1)  # the palm
    cv2.rectangle(img, (cx - 50, cy + 60), (cx + 50, h), skin, -1)  # the wrist
    if seed % 2 == 0:  # fingers spread
        for i, ang in enumerate((-60, -25, -5, 15, 38)):
            length = 110 if 0 < i < 4 else 80
            a = np.deg2rad(ang - 90)
            x1, y1 = int(cx + length * 1.6 * np.cos(a)), int(cy + length * 1.6 * np.sin(a))
            cv2.line(img, (int(cx + 60 * np.cos(a)), int(cy + 60 * np.sin(a))), (x1, y1), skin, 30)
    shade = tuple(int(v * 0.7) for v in skin)
    for k in range(3):
        cv2.ellipse(img, (cx, cy + 10 + 18 * k), (55, 12), 0, 200, 340, shade, 2)  # creases
    return cv2.GaussianBlur(img, (5, 5), 0)


KINDS = {"texture": texture, "room": room, "shirt": shirt, "hand": hand}
PER_KIND = 10


def images() -> list[tuple[str, np.ndarray]]:
    """Every face-free image, named kind-seed."""
    return [(f"{kind}-{seed}", make(seed)) for kind, make in KINDS.items() for seed in range(PER_KIND)]
