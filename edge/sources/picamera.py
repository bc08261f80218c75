"""The Raspberry Pi camera through picamera2 (imported only when this source is chosen).

We ask for one small "RGB888" stream for analysis: in memory that is B,G,R, exactly OpenCV's
order, so no conversion runs on the Pi. libcamera keeps only the newest finished buffer.
"""
from __future__ import annotations

import logging

import numpy as np

from edge.config import SourceConfig
from edge.sources import LatestFrameReader, SourceError, ThreadedCamera

log = logging.getLogger(__name__)


class PicameraSource(ThreadedCamera):
    def __init__(self, cfg: SourceConfig):
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
        self._reader = LatestFrameReader("picamera", self._grab, cfg.timeout_s)

    def _grab(self) -> np.ndarray | None:
        image = self._cam.capture_array("main")
        return np.ascontiguousarray(image[:, :, :3])

    def _release(self) -> None:
        try:
            self._cam.stop()
        finally:
            self._cam.close()
