"""QR codes on the screen: a snapshot's page address, and the booth's Wi-Fi for a phone to join.

segno encodes (pure Python, no dependencies, in Debian as python3-segno); this module turns its
module matrix into a pygame surface with a white quiet zone, whole pixels per module, so a phone
reads it from a metre away.
"""
from __future__ import annotations

import numpy as np
import pygame

QUIET = 4  # modules of white around the code, as the standard asks


def qr_matrix(text: str) -> np.ndarray:
    """The code's modules (True = dark), without the quiet zone; error correction M (15 %)."""
    import segno

    return np.array(segno.make(text, error="m", micro=False, boost_error=False).matrix, bool)


def qr_surface(text: str, max_px: int) -> pygame.Surface:
    """The code for `text` as a square surface of at most max_px (at least one pixel per module)."""
    m = np.pad(qr_matrix(text), QUIET)
    k = max(1, max_px // len(m))
    img = np.where(np.repeat(np.repeat(m, k, 0), k, 1), 0, 255).astype(np.uint8)
    rgb = np.ascontiguousarray(np.stack([img] * 3, -1).transpose(1, 0, 2))
    return pygame.surfarray.make_surface(rgb)


def wifi_payload(ssid: str, password: str) -> str:
    """The text phones read as 'join this network' (WPA, or open when there is no password)."""
    def esc(s: str) -> str:
        return "".join("\\" + c if c in '\\;,:"' else c for c in s)

    if not password:
        return f"WIFI:T:nopass;S:{esc(ssid)};;"
    return f"WIFI:T:WPA;S:{esc(ssid)};P:{esc(password)};;"
