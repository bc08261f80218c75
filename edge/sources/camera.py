"""A V4L2 webcam (or any OpenCV VideoCapture device): /dev/videoN or an index."""
from __future__ import annotations

import logging

import cv2
import numpy as np

from edge.config import SourceConfig
from edge.sources import LatestFrameReader, SourceError, ThreadedCamera

log = logging.getLogger(__name__)


class OpenCVCamera(ThreadedCamera):
    def __init__(self, device: str, cfg: SourceConfig):
        self.name = device
        target: int | str = int(device) if device.isdigit() else device
        cap = cv2.VideoCapture(target, cv2.CAP_V4L2) if isinstance(target, int) or device.startswith("/dev/") \
            else cv2.VideoCapture(target)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"{device}: camera not available (is it plugged in, and is the user in group 'video'?)")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, cfg.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, cfg.height)
        cap.set(cv2.CAP_PROP_FPS, cfg.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the driver's own queue would hand us old frames
        self._cap = cap
        log.info("opened %s at %dx%d", device, cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self._reader = LatestFrameReader(device, self._grab, cfg.timeout_s)

    def _grab(self) -> np.ndarray | None:
        ok, image = self._cap.read()
        return image if ok else None

    def _release(self) -> None:
        self._cap.release()
