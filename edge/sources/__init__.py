"""Where frames come from: cameras, files, folders and the embedded demo, behind one interface.

Every source hands out BGR uint8 frames (OpenCV's order; picamera2's "RGB888" is BGR in memory).
Live cameras are read on a thread into a one-frame slot, so the loop always gets the newest frame
and a slow frame loop drops stale frames instead of queueing them.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, TypeVar

import cv2
import numpy as np

from edge.config import SourceConfig

log = logging.getLogger(__name__)
T = TypeVar("T")


class SourceError(Exception):
    """The source cannot deliver now (camera missing or lost, file unreadable); names the source.
    `fix`, when the cause is known, is what to do about it (doctor prints it)."""

    def __init__(self, message: str, fix: str = ""):
        super().__init__(message)
        self.fix = fix


@dataclass
class Frame:
    image_bgr: np.ndarray
    t_capture: float  # time.monotonic() when the frame was taken
    index: int


MIN_SIDE = 16  # smaller frames cannot hold a detectable face


def as_bgr(image: np.ndarray | None) -> np.ndarray | None:
    """Whatever a driver hands over, as 3-channel uint8 BGR; None for frames no stage can use.

    Cameras and files occasionally deliver grey, BGRA, 16-bit or empty frames; the loop must show
    the idle screen for those, not crash.
    """
    if image is None or not isinstance(image, np.ndarray) or image.size == 0:
        return None
    if image.dtype != np.uint8:
        if np.issubdtype(image.dtype, np.floating):
            image = np.clip(np.nan_to_num(image) * (255 if image.max() <= 1.0 else 1), 0, 255).astype(np.uint8)
        else:
            image = (image >> max(0, 8 * image.dtype.itemsize - 8)).astype(np.uint8)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 1:
        image = cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    elif image.ndim != 3 or image.shape[2] != 3:
        return None
    if min(image.shape[:2]) < MIN_SIDE:
        return None
    return np.ascontiguousarray(image)


class Source(Protocol):
    name: str

    def read(self) -> Frame | None:
        """The newest frame; None when a finite source has ended. Raises SourceError when lost."""

    def close(self) -> None: ...


class LatestFrameReader:
    """Runs a blocking `grab` on a thread and keeps only the newest frame (a slot of one).

    Frames the loop did not take in time are dropped and counted, never queued: a mirror that lags
    behind its viewer is worse than one that skips a frame.
    """

    def __init__(self, name: str, grab: Callable[[], np.ndarray | None], timeout_s: float):
        self.name = name
        self._grab = grab
        self._timeout_s = timeout_s
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._error: str | None = None
        self._taken = -1
        self._count = 0
        self.dropped = 0
        self._stop = threading.Event()
        self._jobs: list[Callable[[], None]] = []
        self._thread = threading.Thread(target=self._run, name=f"capture:{name}", daemon=True)
        self._thread.start()

    def call(self, fn: Callable[[], T]) -> T:
        """fn() run on the capture thread between two grabs, its result or its exception: a driver
        (libcamera, V4L2 through OpenCV) is not to be called from two threads at once."""
        done, box = threading.Event(), {}

        def job() -> None:
            try:
                box["value"] = fn()
            except Exception as e:  # handed to the caller below
                box["error"] = e
            finally:
                done.set()

        with self._cond:
            self._jobs.append(job)
        if not done.wait(self._timeout_s + 1.0):
            raise SourceError(f"{self.name}: the camera did not answer for {self._timeout_s:.1f} s")
        if "error" in box:
            raise box["error"]
        return box["value"]

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._jobs:  # rare (calibrate, doctor): no lock taken on an ordinary frame
                with self._cond:
                    jobs, self._jobs = self._jobs, []
                for job in jobs:
                    job()
            try:
                image = self._grab()
            except Exception as e:  # a driver error must reach the loop, not kill a thread silently
                image, err = None, f"{type(e).__name__}: {e}"
            else:
                err = None if image is not None else "no frame"
            with self._cond:
                if image is None:
                    self._error = err
                    self._cond.notify_all()
                    return
                if self._frame is not None and self._frame.index != self._taken:
                    self.dropped += 1
                self._frame = Frame(image, time.monotonic(), self._count)
                self._count += 1
                self._cond.notify_all()

    def read(self) -> Frame | None:
        deadline = time.monotonic() + self._timeout_s
        with self._cond:
            while self._frame is None or self._frame.index == self._taken:
                if self._error is not None:
                    raise SourceError(f"{self.name}: camera lost ({self._error})")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SourceError(f"{self.name}: no frame for {self._timeout_s:.1f} s")
                self._cond.wait(left)
            self._taken = self._frame.index
            return self._frame

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)


class ThreadedCamera:
    """A camera read on a LatestFrameReader thread; subclasses grab one frame and release the device."""

    name: str
    _reader: LatestFrameReader

    @property
    def dropped(self) -> int:
        return self._reader.dropped

    def read(self) -> Frame | None:
        return self._reader.read()

    def _release(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._reader.close()
        self._release()


def is_camera(spec: str) -> bool:
    """A live camera (real time, its own exposure), not the demo, a file or a folder."""
    return spec == "picamera" or spec.isdigit() or spec.startswith("/dev/video")


def open_source(spec: str, cfg: SourceConfig, calibration=None) -> Source:
    """demo | picamera | /dev/videoN | N | a video file | an image file | a folder of images.
    calibration: a camera's grey-card calibration (edge/calibration.py), whose settings it starts with."""
    from edge.sources import camera, demo, files, picamera

    if spec == "demo":
        return demo.DemoSource(cfg)
    if spec == "picamera":
        return picamera.PicameraSource(cfg, calibration=calibration)
    if is_camera(spec):
        return camera.OpenCVCamera(spec, cfg, calibration)
    path = Path(spec)
    if path.is_dir():
        return files.FolderSource(path, cfg)
    if not path.exists():
        raise SourceError(f"{spec}: no such file, folder or camera (try demo, picamera or /dev/video0)")
    if path.suffix.lower() in files.IMAGE_SUFFIXES:
        return files.ImageSource(path, cfg)
    return files.VideoSource(path, cfg)
