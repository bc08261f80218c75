"""A V4L2 webcam (or any OpenCV VideoCapture device): /dev/videoN or an index.

USB cameras keep their own automatic exposure and white balance, unless a grey-card calibration
(edge/calibration.py) held them: then the manual settings it was made under are set at start, as far
as the driver takes them (drivers differ: each control is set, read back, and what did not take is
logged and, by calibrate, written down).
"""
from __future__ import annotations

import contextlib
import logging
import os

import cv2
import numpy as np

from edge.calibration import Calibration, Held
from edge.config import SourceConfig
from edge.sources import LatestFrameReader, SourceError, ThreadedCamera

log = logging.getLogger(__name__)


# V4L2's exposure_auto menu: 1 = manual; OpenCV before 4.2 took 0.25 for it on some builds
MANUAL_EXPOSURE = (1.0, 0.25)


def _prop(name: str) -> int:
    return getattr(cv2, f"CAP_PROP_{name}")


def set_control(cap, name: str, value: float) -> bool:
    """Sets one control and reads it back: many drivers accept a set() and ignore it."""
    return bool(cap.set(_prop(name), value)) and abs(cap.get(_prop(name)) - value) <= max(1e-3, 0.02 * abs(value))


def device_name(device: str) -> str:
    """The driver's name of the device (what doctor compares against the calibrated camera)."""
    node = device if not device.isdigit() else f"/dev/video{device}"
    try:
        return open(f"/sys/class/video4linux/{node.rsplit('/', 1)[-1]}/name").read().strip() or device
    except OSError:
        return device


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
    def __init__(self, device: str, cfg: SourceConfig, calibration: Calibration | None = None):
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
        self.device = device
        if calibration is not None and calibration.controls:
            took = [name for name, value in calibration.controls.items() if set_control(cap, name, float(value))]
            missed = [name for name in calibration.controls if name not in took]
            (log.warning if missed else log.info)("%s: calibrated controls set: %s%s", device, ", ".join(took) or "none",
                                                  f"; not taken: {', '.join(missed)}" if missed else "")
        log.info("opened %s at %dx%d", device, cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self._reader = LatestFrameReader(device, self._grab, cfg.timeout_s)

    def _grab(self) -> np.ndarray | None:
        ok, image = self._cap.read()
        return image if ok else None

    def hold_light(self) -> Held:
        """Switches automatic exposure and white balance off at the values they reached, where the driver
        allows it. Exposure counts as held only if manual mode and the exposure value both took."""
        return self._reader.call(self._hold)

    def _hold(self) -> Held:
        cap, controls, refused = self._cap, {}, []
        exposure, temperature = cap.get(cv2.CAP_PROP_EXPOSURE), cap.get(cv2.CAP_PROP_WB_TEMPERATURE)
        manual = next((v for v in MANUAL_EXPOSURE if set_control(cap, "AUTO_EXPOSURE", v)), None)
        wb_off = set_control(cap, "AUTO_WB", 0.0)
        # a value set while its automatic mode is still on means nothing (and reads back as it was)
        for name, value, ok in (("AUTO_EXPOSURE", manual, manual is not None),
                                ("EXPOSURE", exposure, manual is not None and set_control(cap, "EXPOSURE", exposure)),
                                ("AUTO_WB", 0.0, wb_off),
                                ("WB_TEMPERATURE", temperature, wb_off and temperature > 0
                                 and set_control(cap, "WB_TEMPERATURE", temperature))):
            if ok:
                controls[name] = float(value)
            else:
                refused.append(name)
        return Held(device_name(self.device), controls, colour={"AUTO_WB", "WB_TEMPERATURE"} <= set(controls),
                    exposure={"AUTO_EXPOSURE", "EXPOSURE"} <= set(controls), refused=refused)

    def light_settings(self) -> dict:
        return self._reader.call(lambda: {name: float(self._cap.get(_prop(name)))
                                          for name in ("AUTO_EXPOSURE", "EXPOSURE", "AUTO_WB", "WB_TEMPERATURE")})

    def _release(self) -> None:
        self._cap.release()
