"""The Raspberry Pi camera through picamera2 (imported only when this source is chosen).

We ask for one small "RGB888" stream for analysis: in memory that is B,G,R, exactly OpenCV's
order, so no conversion runs on the Pi. libcamera keeps only the newest finished buffer.

The skin tone is read from pixel colours, so the camera's own exposure and white balance are held
once they have settled (`source.lock_light_s`): free-running, a visitor in a white shirt or a black
coat moves everybody's exposure and so their skin's lightness. They settle again every
`source.relock_min` minutes, for the light of the day.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import numpy as np

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
            meta = self.cam.capture_metadata()
            held = {k: meta[k] for k in ("ExposureTime", "AnalogueGain", "ColourGains") if k in meta}
            self.cam.set_controls({"AeEnable": False, "AwbEnable": False, **held})
            self.held = held
            log.info("camera light held: exposure %s us, gain %s, colour gains %s", held.get("ExposureTime"),
                     held.get("AnalogueGain"), held.get("ColourGains"))
        elif self.held is not None and now - self.started >= self.settle_s + self.every_s:
            self.cam.set_controls({"AeEnable": True, "AwbEnable": True})
            self.held, self.started = None, now


class PicameraSource(ThreadedCamera):
    def __init__(self, cfg: SourceConfig, clock: Callable[[], float] = time.monotonic):
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
        self.light = LightLock(cam, cfg.lock_light_s, 60.0 * cfg.relock_min, clock)
        self._reader = LatestFrameReader("picamera", self._grab, cfg.timeout_s)

    def _grab(self) -> np.ndarray | None:
        image = self._cam.capture_array("main")
        self.light.tick()
        return np.ascontiguousarray(image[:, :, :3])

    def _release(self) -> None:
        try:
            self._cam.stop()
        finally:
            self._cam.close()
