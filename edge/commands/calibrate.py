"""emoticon-mirror calibrate: a grey card in front of the camera, once, at installation.

Skin lightness in a picture is mostly the camera's exposure, and its colour partly the light's: the
mirror cannot know either from a face alone. A card of known grey where visitors stand tells it both:
the colour gains that make the card neutral, and how the camera's pixel values map to reflectance
(an 18% grey card is L* 49.5). The camera's exposure and white balance are held at the settings the
card was measured under and restored at every start, so the units stay the same on every day.

The card is found where the exhibitor is told to hold it: the plain region around the middle of the
picture. A card that is too dark, clipped, coloured, unevenly lit, too small or moving is refused in
one line, and nothing is written.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from edge import calibration
from edge.atomic import write_atomic
from edge.calibration import Calibration, Held
from edge.config import Config
from edge.perceive.skin_light import LUMA_BGR, SATURATED
from edge.perceive.skin_tone import lab_of
from edge.sources import SourceError, is_camera, open_source

SMALL_W = 160  # the card is looked for on the frame shrunk to this width (area-averaged: noise goes)
CENTRE = 0.06  # the patch the card's colour is taken from: this share of the width, at the centre
TOLERANCE = (0.10, 4.0)  # a pixel belongs to the card within 10% (+4) of that colour in every channel
MIN_AREA = 0.015  # of the picture: a 20 x 25 cm card 1.5 m from a Pi camera is about 2%
MIN_LUMA = 40.0  # a card darker than this (of 255) gives noise for an exposure reference
CLIPPED = 0.01  # share of the card's pixels with a channel at SATURATED: the card is too bright
TINT = 1.8  # a card whose strongest channel is more than this times its weakest is not grey (a lamp's cast
# that the camera's white balance left is far less; a blue folder is 2.8)
SPREAD = 1.15  # the card's brightest twentieth over its darkest: more, and the light falls unevenly
MOVED = 0.04  # the card's brightness between frames, or its centre in picture widths: it moved
SKIP_FRAMES = 3  # after holding the light: the new settings reach the frames a few frames later
HOLD_IT = ("Hold a plain grey card (or white: --reflectance 0.9) so it covers the middle of the picture, "
           "where visitors stand, facing the camera, in the booth's usual light; keep it still.")


class NoCard(Exception):
    """Why no card was measured; one line, saying what to do."""


@dataclass
class Card:
    bgr: np.ndarray  # mean colour as the camera saw it
    area: float  # share of the picture
    centre: tuple[float, float]  # in picture widths and heights
    mask: np.ndarray | None = None  # where it is, on the frame shrunk to SMALL_W


def find_card(frame_bgr: np.ndarray) -> Card:
    """The plain region the middle of the picture lies in, or NoCard saying what is wrong with it."""
    h, w = frame_bgr.shape[:2]
    small = cv2.resize(frame_bgr, (SMALL_W, max(8, round(SMALL_W * h / w))), interpolation=cv2.INTER_AREA)
    small = small.astype(np.float32)
    sh, sw = small.shape[:2]
    r = max(1, round(CENTRE * sw / 2))
    patch = small[sh // 2 - r: sh // 2 + r + 1, sw // 2 - r: sw // 2 + r + 1]
    colour = np.median(patch.reshape(-1, 3), axis=0)
    luma = float(colour @ LUMA_BGR)
    if luma < MIN_LUMA:
        raise NoCard(f"too dark: the middle of the picture reads {luma:.0f} of 255 (light the card, or bring it "
                     f"closer; at least {MIN_LUMA:.0f})")
    rf = max(1, round(CENTRE * w / 2))
    middle = frame_bgr[h // 2 - rf: h // 2 + rf + 1, w // 2 - rf: w // 2 + rf + 1]
    if float((middle.max(axis=2) >= SATURATED).mean()) > CLIPPED:
        raise NoCard("too bright: the card is clipped white in the picture (less light on it, or a grey card "
                     "instead of a white one)")
    close = np.all(np.abs(small - colour) <= TOLERANCE[0] * colour + TOLERANCE[1], axis=2)
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(close.astype(np.uint8), connectivity=4)
    inside = labels[sh // 2 - r: sh // 2 + r + 1, sw // 2 - r: sw // 2 + r + 1]
    label = int(np.bincount(inside[inside > 0], minlength=n).argmax()) if (inside > 0).any() else 0
    area = float(stats[label, cv2.CC_STAT_AREA]) / (sh * sw) if label else 0.0
    card = cv2.erode((labels == label).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) if label else None
    if card is None or area < MIN_AREA or card.sum() < 12:
        raise NoCard(f"no plain card in the middle of the picture (a plain region of {100 * area:.1f}% of it; at "
                     f"least {100 * MIN_AREA:.1f}%): hold the card in the middle, closer to the camera")
    px = small[card]
    mean = px.mean(axis=0)
    if mean.max() > TINT * max(float(mean.min()), 1.0):
        raise NoCard(f"not grey: the middle of the picture is coloured (B,G,R {mean[0]:.0f},{mean[1]:.0f},"
                     f"{mean[2]:.0f}): a plain grey or white card, in the booth's usual white light")
    lo, hi = np.percentile(px @ LUMA_BGR, (5, 95))
    if hi > SPREAD * max(lo, 1.0):
        raise NoCard(f"unevenly lit: one side of the card is {100 * (hi / max(lo, 1.0) - 1):.0f}% brighter than the "
                     "other (turn it to face the camera, out of shadows and reflections)")
    cx, cy = centroids[label]
    return Card(mean, area, (float(cx) / sw, float(cy) / sh), card)


def steady(cards: list[Card]) -> Card:
    """The cards of several frames as one, or NoCard if the card moved between them."""
    lumas = np.array([float(c.bgr @ LUMA_BGR) for c in cards])
    drift = max(np.hypot(c.centre[0] - cards[0].centre[0], c.centre[1] - cards[0].centre[1]) for c in cards)
    change = float(np.abs(lumas / np.median(lumas) - 1).max())
    if change > MOVED or drift > MOVED:
        raise NoCard("the card moved while it was measured (hold it still, and keep out of the light)")
    return Card(np.mean([c.bgr for c in cards], axis=0), float(np.mean([c.area for c in cards])), cards[0].centre,
                cards[-1].mask)


def srgb(reflectance: float) -> float:
    """The 0..255 value an sRGB camera gives a surface of this reflectance under a correct exposure."""
    v = 12.92 * reflectance if reflectance <= 0.0031308 else 1.055 * reflectance ** (1 / 2.4) - 0.055
    return 255.0 * v


def calibration_from(card: Card, held: Held, reflectance: float, source: str, size: tuple[int, int],
                     made: float) -> Calibration:
    gains = float(card.bgr @ LUMA_BGR) / np.maximum(card.bgr, 1.0)
    gains = gains / float(gains @ LUMA_BGR)  # colour only: the card's brightness stays
    grey = float((card.bgr * gains).mean())
    return Calibration(source=source, size=size, camera=held.camera, made=made, reflectance=reflectance,
                       card_bgr=tuple(round(float(v), 2) for v in card.bgr),
                       gains=tuple(round(float(g), 4) for g in gains),
                       exposure_gain=round(srgb(reflectance) / grey, 4), card_lstar=round(lab_of([grey] * 3)[0], 2),
                       colour_held=held.colour, exposure_held=held.exposure, controls=held.controls,
                       refused=held.refused)


def measure(src, frames: int, settle_s: float, clock: Callable[[], float],
            seen: list | None = None) -> tuple[Card, Held]:
    """Lets the camera settle, holds its light, then finds the card on `frames` frames. seen: gets
    the last frame looked at, and the card found on it (for --picture)."""
    seen = [] if seen is None else seen
    start = clock()
    while clock() - start < settle_s:
        src.read()
    held = src.hold_light()
    for _ in range(SKIP_FRAMES):
        src.read()
    cards = []
    for _ in range(frames):
        frame = src.read()
        if frame is None:
            raise SourceError(f"{src.name}: the source ended while the card was measured")
        seen[:] = [frame.image_bgr, None]
        cards.append(find_card(frame.image_bgr))
        seen[1] = cards[-1]
    return steady(cards), held


def picture(frame_bgr: np.ndarray, card: Card | None) -> np.ndarray:
    """The frame as the camera saw it, the patch the card's colour is taken from in yellow and the
    card found in green: what an exhibitor at a remote shell looks at when the card is refused."""
    out = frame_bgr.copy()
    h, w = out.shape[:2]
    r = max(1, round(CENTRE * w / 2))
    cv2.rectangle(out, (w // 2 - r, h // 2 - r), (w // 2 + r, h // 2 + r), (0, 230, 255), 2)
    if card is not None and card.mask is not None:
        mask = cv2.resize(card.mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (0, 220, 0), 2)
    return out


def save_picture(path: Path, seen: list) -> None:
    ok, png = cv2.imencode(path.suffix or ".png", picture(*seen))
    if not ok:
        raise OSError(f"{path}: cannot encode a picture of this type (.png, .jpg)")
    write_atomic(path, png.tobytes())


def run(cfg: Config, reflectance: float = 0.18, frames: int = 10, settle_s: float | None = None,
        opener: Callable | None = None, out: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic, picture_path: Path | None = None) -> None:
    """Measures the card and writes the calibration; NoCard (no calibration written) when there is
    none to measure. opener: opens the source from (spec, source config) - a test's fake camera.
    picture_path: the last frame looked at is written there, the card outlined, card or not."""
    spec = cfg.source.input
    if opener is None and not is_camera(spec):
        raise NoCard(f"source {spec!r} is not a camera: calibrate the camera the mirror runs with "
                     "(--source picamera or /dev/videoN, or source.input in the config)")
    settle = settle_s if settle_s is not None else (cfg.source.lock_light_s or 3.0)
    out(HOLD_IT)
    out(f"Measuring in {settle:.0f} s ({spec}, {cfg.source.width}x{cfg.source.height}) ...")
    # the camera's own hold is off: calibrate holds the light itself, once the card has been in view
    src = (opener or open_source)(spec, dataclasses.replace(cfg.source, lock_light_s=0.0))
    seen: list = []
    try:
        if not hasattr(src, "hold_light"):
            raise NoCard(f"source {spec!r} cannot hold its exposure and white balance")
        card, held = measure(src, frames, settle, clock, seen)
    finally:
        src.close()
        if picture_path is not None and seen:
            save_picture(picture_path, seen)
    if not (held.colour or held.exposure):
        raise NoCard(f"{held.camera} takes neither manual exposure nor manual white balance (refused: "
                     f"{', '.join(held.refused)}): a calibration would not stay true; nothing written")
    cal = calibration_from(card, held, reflectance, spec, (cfg.source.width, cfg.source.height), time.time())
    path = calibration.path_for(cfg.source)
    calibration.save(cal, path)
    for line in report(cal, card):
        out(line)
    out(f"written: {path} (delete it to go back to the uncalibrated meter)")


def report(cal: Calibration, card: Card) -> list[str]:
    b, g, r = cal.gains
    lines = [f"card found: {100 * card.area:.0f}% of the picture, B,G,R {', '.join(f'{v:.0f}' for v in cal.card_bgr)}",
             f"colour gains B,G,R {b:.2f} {g:.2f} {r:.2f} make it grey"
             + ("" if cal.colour_held else " (not used: the camera's white balance stays automatic; the "
                                          "light around each face is used instead)"),
             f"exposure: the card reads L* {cal.card_lstar:.1f}, a {100 * cal.reflectance:.0f}% card is "
             f"L* {cal.reference_lstar():.1f}: skin is read x{cal.exposure_gain:.2f}"
             + ("" if cal.exposure_held else " (not used: the camera's exposure stays automatic)")]
    held = ", ".join(f"{k} {v}" for k, v in cal.controls.items())
    lines.append(f"{cal.camera} held at: {held or 'nothing'}; restored at every start")
    if cal.refused:
        lines.append(f"not taken by the driver: {', '.join(cal.refused)}")
    return lines
