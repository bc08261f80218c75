"""The emoticon's shading (edge darkening and a top-left gloss), made once per size, and the opacity fix.

Smooth gradients need no supersampling, so they are computed small, scaled up and cached per size;
a variant then costs two blend blits.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pygame

_SHADING: "OrderedDict[int, tuple[pygame.Surface, pygame.Surface]]" = OrderedDict()


def shading(size: int) -> tuple[pygame.Surface, pygame.Surface]:
    """A multiply layer (edge darkening) and an add layer (top-left gloss) for one size, cached:
    smooth gradients need no supersampling, so they are made once at the final size."""
    hit = _SHADING.get(size)
    if hit is not None:
        _SHADING.move_to_end(size)
        return hit
    n = min(size, max(48, size // 4))  # smooth gradients: compute small, scale up
    c = (n - 1) / 2
    r = n / 2 - n / size
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    x = (xx - c) / r
    y = (yy - c) / r
    d_off = np.sqrt((x + 0.22) ** 2 + (y + 0.3) ** 2)
    dark = 0.2 * np.clip((d_off - 0.75) / 0.75, 0, 1) ** 1.6
    mult = np.clip(255 * (1 - dark), 0, 255).astype(np.uint8)
    gloss = 34 * np.exp(-((x + 0.3) ** 2 / (2 * 0.3 ** 2) + (y + 0.52) ** 2 / (2 * 0.17 ** 2)))
    add = np.clip(gloss, 0, 255).astype(np.uint8)
    outside = x * x + y * y > 1.1
    mult[outside] = 255
    add[outside] = 0
    layers = []
    for arr in (mult, add):
        small = pygame.image.frombuffer(np.repeat(arr[:, :, None], 3, axis=2).tobytes(), (n, n), "RGB")
        layer = pygame.Surface((size, size))
        layer.blit(small if n == size else pygame.transform.smoothscale(small, (size, size)), (0, 0))
        layers.append(layer)
    m_surf, a_surf = layers
    _SHADING[size] = (m_surf, a_surf)
    while len(_SHADING) > 24:
        _SHADING.popitem(last=False)
    return m_surf, a_surf



def restore_opacity(out: pygame.Surface) -> None:
    """Make the inside of the face exactly opaque again if this pygame's smoothscale rounded it
    down (a face that is 99% opaque lets crossfades and the background shimmer through)."""
    c = out.get_width() // 2
    inner = out.get_at((c, c)).a
    if 0 < inner < 255:
        lut = np.minimum(255, np.round(np.arange(256) * (255 / inner))).astype(np.uint8)
        alpha = pygame.surfarray.pixels_alpha(out)
        alpha[...] = lut[alpha]
        del alpha  # releases the surface lock

