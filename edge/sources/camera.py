"""A V4L2 webcam (or any OpenCV VideoCapture device): /dev/videoN or an index."""
from __future__ import annotations

import contextlib
import logging
import os

import cv2
import numpy as np

from edge.config import SourceConfig
from edge.sources import LatestFrameReader, SourceError, ThreadedCamera

log = logging.getLogger(__name__)


MAX_INDEX = 255  # V4L2 devices are /dev/video0../dev/video255


def quiet_opencv() -> None:
    """OpenCV's own warnings off (errors stay): under systemd each retry for a missing camera put
    OpenCV's `[ WARN ]` lines in the journal, beside our one line a minute. OPENCV_LOG_LEVEL, when
    set, or --debug keep them."""
    if "OPENCV_LOG_LEVEL" in os.environ or logging.getLogger().isEnabledFor(logging.DEBUG):
        return
    with contextlib.suppress(AttributeError, cv2.error):  # an OpenCV built without its utils module
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


class OpenCVCamera(ThreadedCamera):
    def __init__(self, device: str, cfg: SourceConfig):
        self.name = device
        missing = SourceError(f"{device}: camera not available (is it plugged in, and is the user in group 'video'?)")
        if device.isdigit() and int(device) > MAX_INDEX:
            raise SourceError(f"{device}: not a camera index (0..{MAX_INDEX}, as in /dev/video0)")
        if not os.path.exists(f"/dev/video{device}" if device.isdigit() else device):
            raise missing  # not there at all: OpenCV need not be asked (and warn) each retry
        quiet_opencv()
        target: int | str = int(device) if device.isdigit() else device
        cap = cv2.VideoCapture(target, cv2.CAP_V4L2) if isinstance(target, int) or device.startswith("/dev/") \
            else cv2.VideoCapture(target)
        if not cap.isOpened():
            cap.release()
            raise missing
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
