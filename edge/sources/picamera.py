"""The Raspberry Pi camera through picamera2 (imported only when this source is chosen).

We ask for one small "RGB888" stream for analysis: in memory that is B,G,R, exactly OpenCV's
order, so no conversion runs on the Pi. libcamera keeps only the newest finished buffer.

The skin tone is read from pixel colours, so the camera's own exposure and white balance are held
once they have settled (`source.lock_light_s`): free-running, a visitor in a white shirt or a black
coat moves everybody's exposure and so their skin's lightness. They settle again every
`source.relock_min` minutes, for the light of the day. With a grey-card calibration
(edge/calibration.py) the exposure and colour gains it was made under are set at start and held for
good: the calibration's units are those settings.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import numpy as np

from edge.calibration import Calibration, Held
from edge.config import SourceConfig
from edge.sources import LatestFrameReader, SourceError, ThreadedCamera

log = logging.getLogger(__name__)


class LightLock:
    """Lets auto exposure and white balance run for `settle_s`, then holds the values the camera
    reached (from the frame's metadata), and starts over every `every_s`."""

    def __init__(self, cam, settle_s: float, every_s: float, clock: Callable[[], float] = time.monotonic):
        self.cam, self.settle_s, self.every_s, self.clock = cam, settle_s, every_s, clock
        self.started = clock()
        self.held: dict | None = None

    def tick(self) -> None:
        """Called after every frame: holds or frees the light when it is time to."""
        if self.settle_s <= 0:
            return
        now = self.clock()
        if self.held is None and now - self.started >= self.settle_s:
            self.hold(settings(self.cam))
        elif self.held is not None and now - self.started >= self.settle_s + self.every_s:
            self.cam.set_controls({"AeEnable": True, "AwbEnable": True})
            self.held, self.started = None, now

    def hold(self, held: dict) -> None:
        """Holds these settings (the camera's own, or a calibration's) until the next re-settle."""
        self.cam.set_controls({"AeEnable": False, "AwbEnable": False, **held})
        self.held = held
        log.info("camera light held: exposure %s us, gain %s, colour gains %s", held.get("ExposureTime"),
                 held.get("AnalogueGain"), held.get("ColourGains"))


HELD = ("ExposureTime", "AnalogueGain", "ColourGains")


def settings(cam) -> dict:
    """The exposure and colour gains the camera is running at, from its newest frame's metadata."""
    meta = cam.capture_metadata()
    return {k: tuple(meta[k]) if isinstance(meta[k], (list, tuple)) else meta[k] for k in HELD if k in meta}


class PicameraSource(ThreadedCamera):
    def __init__(self, cfg: SourceConfig, clock: Callable[[], float] = time.monotonic,
                 calibration: Calibration | None = None):
        """calibration: its settings are set at start and never re-settled (`relock_min` is then unused)."""
        self.name = "picamera"
        try:
            from picamera2 import (
                Picamera2,  # apt: python3-picamera2 (needs apt's libcamera)
            )
        except ImportError:
            raise SourceError("picamera: picamera2 is not installed (on Raspberry Pi OS: sudo apt install python3-picamera2)",
                              fix="sudo apt install python3-picamera2 (Raspberry Pi OS only; then ./setup.sh), "
                                  "or use a USB camera: source.input = \"/dev/video0\"") from None
        try:
            cam = Picamera2()
            config = cam.create_video_configuration(
                main={"size": (cfg.width, cfg.height), "format": "RGB888"},
                controls={"FrameRate": float(cfg.fps)},
                buffer_count=2,
            )
            cam.configure(config)
            cam.start()
        except Exception as e:  # libcamera raises plain RuntimeError/IndexError when no camera is attached
            raise SourceError(f"picamera: camera not available ({e})") from None
        self._cam = cam
        self.light = LightLock(cam, 0.0 if calibration else cfg.lock_light_s, 60.0 * cfg.relock_min, clock)
        if calibration is not None:
            self.light.hold({k: tuple(v) if isinstance(v, list) else v
                             for k, v in calibration.controls.items() if k in HELD})
        self._reader = LatestFrameReader("picamera", self._grab, cfg.timeout_s)

    def _grab(self) -> np.ndarray | None:
        image = self._cam.capture_array("main")
        self.light.tick()
        return np.ascontiguousarray(image[:, :, :3])

    def hold_light(self) -> Held:
        """Holds the exposure and colour gains reached so far (calibrate measures the card after this)."""
        return self._reader.call(self._hold)

    def _hold(self) -> Held:
        self.light.settle_s = 0.0  # held for good: no re-settling while the card is measured
        self.light.hold(settings(self._cam))
        held = dict(self.light.held or {})
        model = str(getattr(self._cam, "camera_properties", {}).get("Model", "picamera"))
        return Held(model, held, colour="ColourGains" in held,
                    exposure="ExposureTime" in held and "AnalogueGain" in held)

    def light_settings(self) -> dict:
        return self._reader.call(lambda: settings(self._cam))

    def _release(self) -> None:
        try:
            self._cam.stop()
        finally:
            self._cam.close()
