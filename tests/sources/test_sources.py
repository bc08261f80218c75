"""Every source kind delivers BGR frames; a missing camera or broken file is a clear SourceError."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from conftest import DEMO
from edge.config import SourceConfig
from edge.sources import LatestFrameReader, SourceError, open_source
from edge.sources.demo import DemoSource
from edge.sources.memory import MemorySource
from fakes import FakePicamera2, tiny_video  # noqa: F401

CFG = SourceConfig()
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_demo_is_repeatable_and_has_faces_motion_and_an_empty_moment(detector):
    demo = DemoSource(CFG)
    first = demo.read().image_bgr
    assert first.shape == (480, 640, 3) and first.dtype == np.uint8
    assert np.array_equal(first, DemoSource(CFG).frame_at(0))
    assert not np.array_equal(demo.frame_at(0), demo.frame_at(60))  # the camera moves
    counts = [len(detector.detect(demo.frame_at(i))) for i in range(0, demo.loop_frames, 6)]
    assert counts.count(0) >= 1  # the idle screen gets shown
    assert 2 in counts  # both people together
    assert sum(c > 0 for c in counts) >= 0.9 * len(counts)


def test_image_file_source_repeats_the_picture():
    src = open_source(str(DEMO / "astronaut.png"), CFG)
    a, b = src.read(), src.read()
    assert a.image_bgr.shape == (512, 512, 3) and b.index == a.index + 1
    src.close()


def test_folder_source_holds_each_image_and_loops(tmp_path):
    for name in ("astronaut.png", "grace_hopper.jpg"):
        (tmp_path / name).write_bytes((DEMO / name).read_bytes())
    (tmp_path / "notes.txt").write_text("not an image")
    src = open_source(str(tmp_path), SourceConfig(fps=2))
    shapes = [src.read().image_bgr.shape[:2] for _ in range(6)]
    assert shapes == [(512, 512), (512, 512), (600, 512), (600, 512), (512, 512), (512, 512)]


def test_empty_folder(tmp_path):
    with pytest.raises(SourceError, match="folder has no images"):
        open_source(str(tmp_path), CFG)


def test_video_file_source_reads_and_loops(tmp_path):
    path = tmp_path / "clip.avi"
    tiny_video(path)
    src = open_source(str(path), SourceConfig(loop=True))
    frames = [src.read() for _ in range(20)]  # past the end: it loops
    assert all(f.image_bgr.shape == (192, 160, 3) for f in frames)
    assert src.fps == 10  # the file's own rate, which the loop keeps
    src.close()


def test_a_video_plays_once_unless_looping_is_asked(tmp_path):
    path = tmp_path / "clip.avi"
    tiny_video(path, 12)
    src = open_source(str(path), CFG)
    frames = [src.read() for _ in range(13)]
    assert all(f is not None for f in frames[:12]) and frames[12] is None
    src.close()


def test_video_removed_mid_run_is_a_lost_source(tmp_path):
    path = tmp_path / "clip.avi"
    tiny_video(path, 3)
    src = open_source(str(path), SourceConfig(loop=True))  # played once, its end would just be the end
    path.unlink()
    with pytest.raises(SourceError):
        for _ in range(10):
            src.read()


def test_not_a_video(tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(SourceError, match="clip.mp4"):
        open_source(str(bad), CFG).read()


def test_missing_path_and_missing_camera(tmp_path):
    with pytest.raises(SourceError, match="no such file, folder or camera"):
        open_source(str(tmp_path / "nope.mp4"), CFG)
    with pytest.raises(SourceError, match="/dev/video97: camera not available"):
        open_source("/dev/video97", CFG)


def test_picamera_without_picamera2_says_how_to_install():
    try:
        import picamera2  # noqa: F401
    except ImportError:
        with pytest.raises(SourceError, match="apt install python3-picamera2"):
            open_source("picamera", CFG)
    else:
        pytest.skip("picamera2 is installed here")


def test_the_pi_camera_holds_its_light_once_settled_and_settles_again_later(monkeypatch):
    """The skin tone is measured in the camera's units: after source.lock_light_s the exposure and
    colour gains the camera reached are held; every source.relock_min it settles again."""
    import sys
    import types

    from edge.sources.picamera import LightLock, PicameraSource

    cam = FakePicamera2()
    now = [0.0]
    lock = LightLock(cam, settle_s=3.0, every_s=60.0, clock=lambda: now[0])
    for t in (0.5, 1.0, 2.9):
        now[0] = t
        lock.tick()
    assert cam.controls == []  # still settling
    cam.frames = 41
    now[0] = 3.0
    lock.tick()
    held = cam.controls[-1]
    assert held["AeEnable"] is False and held["AwbEnable"] is False
    assert held["ExposureTime"] == 10041 and held["ColourGains"] == (1.8, 1.5) and "Lux" not in held
    now[0] = 60.0
    lock.tick()
    assert len(cam.controls) == 1  # held for the minute
    now[0] = 63.5
    lock.tick()
    assert cam.controls[-1] == {"AeEnable": True, "AwbEnable": True}  # settling again
    now[0] = 66.6
    lock.tick()
    assert cam.controls[-1]["AeEnable"] is False and len(cam.controls) == 3
    off = FakePicamera2()
    LightLock(off, settle_s=0.0, every_s=60.0, clock=lambda: 1e6).tick()
    assert off.controls == []  # 0: the camera's own automatic light throughout

    # the source runs the lock with the configured times
    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=FakePicamera2))
    src = PicameraSource(SourceConfig(input="picamera", lock_light_s=5.0, relock_min=2.0))
    try:
        assert (src.light.settle_s, src.light.every_s) == (5.0, 120.0)
    finally:
        src.close()


def test_latest_frame_reader_drops_stale_frames_instead_of_queueing():
    n = iter(range(10**6))

    def grab():
        time.sleep(0.002)
        return np.full((2, 2, 3), next(n) % 256, np.uint8)

    reader = LatestFrameReader("fast", grab, timeout_s=1.0)
    try:
        first = reader.read()
        time.sleep(0.1)  # a slow loop: ~50 frames arrive meanwhile
        newest = reader.read()
        assert newest.index - first.index > 10
        assert reader.dropped > 10
    finally:
        reader.close()


def test_latest_frame_reader_times_out_on_a_hung_camera_and_reports_a_dead_one():
    hang = threading.Event()
    reader = LatestFrameReader("hung", lambda: (hang.wait(5), None)[1], timeout_s=0.2)
    with pytest.raises(SourceError, match="no frame for 0.2 s"):
        reader.read()
    hang.set()
    with pytest.raises(SourceError, match="camera lost"):
        time.sleep(0.05)
        reader.read()
    reader.close()


def test_memory_source_ends_when_not_looping():
    src = MemorySource([np.zeros((4, 4, 3), np.uint8)], loop=False)
    assert src.read() is not None and src.read() is None


QUIET_CHILD = """
import sys
from edge.config import SourceConfig
from edge.sources import SourceError
from edge.sources.camera import OpenCVCamera
for attempt in range(3):  # the frame loop's retries
    try:
        OpenCVCamera(sys.argv[1], SourceConfig())
    except SourceError as e:
        print(e)
"""


@pytest.mark.parametrize("device", ["/dev/video77", "99999999999", "/dev/null"])
def test_a_missing_camera_is_one_line_of_ours_and_nothing_from_opencv(device):
    """Under systemd every retry's OpenCV warnings went to the journal (and a huge index gave an
    8-line OpenCV message). stderr is read at the file-descriptor level: OpenCV writes there from C.
    /dev/null is there but is no camera: OpenCV itself is asked, and refuses."""
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-c", QUIET_CHILD, device], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env=env)
    lines = proc.stdout.splitlines()
    assert len(lines) == 3 and all(device in ln for ln in lines), proc.stdout
    assert proc.stderr == "", proc.stderr


def test_opencv_camera_path_with_a_video_standing_in_for_the_device(tmp_path):
    """The webcam class end to end (capture thread, newest-frame slot) with a file as its device."""
    from edge.sources.camera import OpenCVCamera

    path = tmp_path / "cam.avi"
    tiny_video(path, 40)
    cam = OpenCVCamera(str(path), SourceConfig(timeout_s=1.0))
    try:
        frames = [cam.read() for _ in range(3)]
        assert all(f.image_bgr.shape == (192, 160, 3) for f in frames)
        assert frames[0].index < frames[1].index < frames[2].index  # never the same frame twice
        with pytest.raises(SourceError, match="camera lost"):
            for _ in range(60):  # the file ends: to the loop that is a lost camera
                cam.read()
    finally:
        cam.close()


def test_folder_of_unreadable_images_is_one_clear_error(tmp_path):
    for i in range(3):
        (tmp_path / f"broken{i}.jpg").write_text("not a picture")
    with pytest.raises(SourceError, match="none of its 3 images is readable"):
        open_source(str(tmp_path), CFG)


def test_one_bad_image_in_a_folder_warns_once(tmp_path, caplog):
    (tmp_path / "a.png").write_bytes((DEMO / "astronaut.png").read_bytes())
    (tmp_path / "b.jpg").write_text("not a picture")
    (tmp_path / "c.jpg").write_bytes((DEMO / "grace_hopper.jpg").read_bytes())
    src = open_source(str(tmp_path), SourceConfig(fps=2))
    with caplog.at_level("WARNING"):
        shapes = [src.read().image_bgr.shape[:2] for _ in range(16)]  # four passes over the folder
    assert shapes[:4] == [(512, 512), (512, 512), (600, 512), (600, 512)]  # b.jpg skipped, not shown
    assert set(shapes) == {(512, 512), (600, 512)}
    warnings = [r.getMessage() for r in caplog.records if "b.jpg" in r.getMessage()]
    assert len(warnings) == 1


def test_a_huge_still_is_shrunk_once_for_the_loop(tmp_path, detector):
    big = cv2.resize(cv2.imread(str(DEMO / "astronaut.png")), (4000, 4000), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(tmp_path / "big.png"), big)
    src = open_source(str(tmp_path / "big.png"), CFG)
    frame = src.read().image_bgr
    assert frame.shape == (1920, 1920, 3)
    faces = detector.detect(frame)
    assert len(faces) == 1 and 600 < faces[0].box[0] < 750  # the astronaut's face at 178 * 1920/512


def test_a_huge_picture_is_read_reduced_or_refused_in_one_line(tmp_path):
    """A 20000x20000 image took 2.45 GB to decode (the unit allows 700 MB) and failed with an OpenCV
    or pygame traceback under a limit: a JPEG is now decoded at a fraction of its size, anything else
    that large is refused naming the file."""
    import struct
    import zlib

    from edge.sources.files import MAX_DECODE_PIXELS, header_size, read_image

    big = np.full((8200, 8200, 3), 90, np.uint8)  # 67 Mpx, just over the limit
    assert cv2.imwrite(str(tmp_path / "big.jpg"), big)
    del big
    assert header_size((tmp_path / "big.jpg").read_bytes()[:65536]) == (8200, 8200)
    image = read_image(tmp_path / "big.jpg")
    assert image.shape == (4100, 4100, 3) and image.shape[0] * image.shape[1] <= MAX_DECODE_PIXELS

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
    (tmp_path / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + header + chunk(b"IEND", b""))
    with pytest.raises(SourceError, match="huge.png: too large to read \\(20000x20000 pixels"):
        read_image(tmp_path / "huge.png")
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((30, 40, 3), np.uint8))
    assert header_size(small.read_bytes()) == (40, 30) and read_image(small).shape == (30, 40, 3)


def test_a_call_into_the_driver_runs_on_the_capture_thread_between_two_grabs():
    """calibrate and doctor hold and read a camera's settings while frames are captured: the driver
    (libcamera, V4L2 through OpenCV) must not be called from two threads at once."""
    inside = threading.Event()
    overlapped = []

    def grab():
        inside.set()
        time.sleep(0.003)
        inside.clear()
        return np.zeros((16, 16, 3), np.uint8)

    def job():
        overlapped.append(inside.is_set())
        return threading.current_thread().name

    reader = LatestFrameReader("cam", grab, timeout_s=1.0)
    try:
        reader.read()
        assert [reader.call(job) for _ in range(20)] == ["capture:cam"] * 20
        assert not any(overlapped)
        with pytest.raises(ZeroDivisionError):
            reader.call(lambda: 1 / 0)
        assert reader.read() is not None  # the capture goes on
    finally:
        reader.close()
