"""The camera picture in a corner (display.pip): mirrored like the faces, so people find themselves."""
from __future__ import annotations

import numpy as np
import pygame

from edge.render import layout


def pip_rect(size: tuple[int, int], rgb: np.ndarray) -> layout.Rect | None:
    """Where the picture goes on a screen of `size`; None for a frame that is not an RGB image."""
    shape = getattr(rgb, "shape", ())
    if len(shape) != 3 or shape[2] != 3 or shape[0] < 2 or shape[1] < 2:
        return None
    W, H = size
    w = (0.22 if W >= H else 0.34) * W
    h = w * shape[0] / shape[1]
    m = 0.025 * min(W, H)
    return layout.Rect(W - w - m, H - h - m, w, h)


def draw_pip(screen: pygame.Surface, rgb: np.ndarray, rect: layout.Rect) -> None:
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    h, w = arr.shape[:2]
    mirrored = np.ascontiguousarray(arr[:, ::-1, :])
    surf = pygame.image.frombuffer(mirrored.tobytes(), (w, h), "RGB")
    size = (max(2, int(rect.w)), max(2, int(rect.h)))
    pic = pygame.transform.smoothscale(surf, size)
    pos = (int(rect.x), int(rect.y))
    border = max(2, int(min(screen.get_size()) * 0.004))
    screen.blit(pic, pos)
    pygame.draw.rect(screen, (235, 235, 250), (pos[0] - border, pos[1] - border,
                                               size[0] + 2 * border, size[1] + 2 * border),
                     border, border_radius=border * 2)
