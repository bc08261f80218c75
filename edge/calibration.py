"""The grey-card calibration a booth makes once at installation, and where it is kept.

`emoticon-mirror calibrate` (edge/commands/calibrate.py) writes it; the camera sources restore the
exposure and white balance it was made under, and the skin tone meter reads skin through its gains,
so a visitor's skin is measured in the same units on every day of the exhibition. A calibration is
used only by the camera it was made with (the same source and frame size); photos, videos and the
demo are never read through it. Without one, nothing changes.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge.atomic import write_atomic
from edge.config import SourceConfig, state_dir

log = logging.getLogger(__name__)

FILE_NAME = "calibration.json"
VERSION = 1


class CalibrationError(Exception):
    """The calibration file cannot be read as one; the message names the file."""


@dataclass
class Calibration:
    source: str  # source.input it was made with: picamera, /dev/video0, ...
    size: tuple[int, int]  # frame width, height
    camera: str  # the sensor or device name, as the camera reported it
    made: float  # wall-clock time (s since the epoch)
    reflectance: float  # of the card: 0.18 for an 18% grey card
    card_bgr: tuple[float, float, float]  # the card's mean colour as the camera saw it
    gains: tuple[float, float, float]  # B, G, R gains that make the card neutral (mean luma kept)
    exposure_gain: float  # on balanced pixel values: the card as its known reflectance would read
    card_lstar: float  # the card's L* after the colour gains (its known L*: reference_lstar())
    colour_held: bool  # white balance held at the calibrated setting (the gains stay true)
    exposure_held: bool  # exposure held likewise (the exposure reference stays true)
    controls: dict = field(default_factory=dict)  # what the camera is set to at start
    refused: list[str] = field(default_factory=list)  # V4L2 controls the driver did not take

    def reference_lstar(self) -> float:
        return 116.0 * float(np.cbrt(self.reflectance)) - 16.0

    def meter_gains(self, colour: np.ndarray | None) -> np.ndarray:
        """The gains skin pixels are read through: the card's colour gains where the camera's white
        balance is held (else `colour`, the meter's own estimate from the face's surroundings), times
        the exposure reference where its exposure is held."""
        gains = np.asarray(self.gains if self.colour_held or colour is None else colour, np.float32)
        return (gains * (self.exposure_gain if self.exposure_held else 1.0)).astype(np.float32)

    def age_days(self, now: float | None = None) -> float:
        return ((time.time() if now is None else now) - self.made) / 86400.0

    def matches(self, cfg: SourceConfig) -> bool:
        return self.source == cfg.input and tuple(self.size) == (cfg.width, cfg.height)


@dataclass
class Held:
    """What a camera did when asked to hold its light for a calibration (its `hold_light()`)."""

    camera: str
    controls: dict  # the settings to restore at start, by the camera's own names
    colour: bool  # white balance now held
    exposure: bool  # exposure now held
    refused: list[str] = field(default_factory=list)


def path_for(cfg: SourceConfig) -> Path:
    """source.calibration, else calibration.json in the state folder the visitor counts use
    ($STATE_DIRECTORY under the service, else ~/.local/state/emoticon-mirror)."""
    return (Path(cfg.calibration).expanduser() if cfg.calibration else state_dir() / FILE_NAME).absolute()


def save(cal: Calibration, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"version": VERSION, **asdict(cal)}
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode())


def load(path: Path) -> Calibration:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise CalibrationError(f"{path}: no calibration") from None
    except (OSError, ValueError) as e:
        raise CalibrationError(f"{path}: not a calibration file ({e})") from None
    if not isinstance(data, dict) or data.pop("version", None) != VERSION:
        raise CalibrationError(f"{path}: not a calibration file of version {VERSION} (run calibrate again)")
    try:
        cal = Calibration(**data)
        cal.size = (int(cal.size[0]), int(cal.size[1]))
        cal.gains = tuple(float(g) for g in cal.gains)  # type: ignore[assignment]
        ok = len(cal.gains) == 3 and all(0.2 < g < 5 for g in cal.gains) and 0.1 < float(cal.exposure_gain) < 10
    except (TypeError, ValueError, IndexError) as e:
        raise CalibrationError(f"{path}: not a calibration file ({e})") from None
    if not ok:
        raise CalibrationError(f"{path}: gains out of range (run calibrate again)")
    return cal


def for_camera(cfg: SourceConfig) -> Calibration | None:
    """The calibration of the camera `cfg` opens, or None (no file, another camera or size, or a file
    that cannot be read: the mirror then runs as uncalibrated, and says why once)."""
    path = path_for(cfg)
    if not path.exists():
        return None
    try:
        cal = load(path)
    except CalibrationError as e:
        log.warning("calibration not used: %s", e)
        return None
    if not cal.matches(cfg):
        log.info("calibration %s is for %s at %dx%d, not %s at %dx%d: not used", path, cal.source, *cal.size,
                 cfg.input, cfg.width, cfg.height)
        return None
    return cal
