"""Take it home, end to end: a snapshot on the real renderer's screen, its QR code read off that
screen by OpenCV, the page and its moving stickers fetched (urllib always; headless Chromium where
installed), expiry; what fails (a sticker, a full disk) leaves the card and the loop."""
from __future__ import annotations

import io
import logging
import math
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

from edge.booth import sticker  # noqa: E402
from edge.booth.booth import build_booth  # noqa: E402
from edge.config import Config  # noqa: E402
from edge.render import Renderer  # noqa: E402
from edge.render.look import Look  # noqa: E402
from edge.sources import Frame  # noqa: E402
from edge.state import EmoticonState, FaceView, Motion, Scene  # noqa: E402
from fakes import CAMERA_GREEN, camera_pixels, listening_sockets  # noqa: E402
from fsfaults import faulty_dir  # noqa: E402

FPS, PRESS_AT, FRAMES = 30, 60, 100  # a 1 s countdown: the picture at frame 90
CAPTURE_AT = PRESS_AT + FPS
TIMEOUT_S = 20


class Clock:
    t = 5000.0

    def __call__(self):
        return self.t


def scene(i: int) -> Scene:
    """Two people: one opening and closing her mouth, one blinking and tilting his head."""
    k = i / FPS
    return Scene([FaceView(1, EmoticonState("happy", tone="medium"), 0.3,
                           Motion(mouth_open=0.5 + 0.5 * math.sin(k * 5), smile=0.6)),
                  FaceView(2, EmoticonState("surprise", eyewear="glasses"), 0.7,
                           Motion(eye_open_left=abs(math.cos(k * 3)), eye_open_right=abs(math.cos(k * 3)),
                                  roll_deg=15 * math.sin(k * 2)))])


def screen_rgb(surface: pygame.Surface) -> np.ndarray:
    return np.ascontiguousarray(pygame.surfarray.array3d(surface).transpose(1, 0, 2))


def read_qr(img_rgb: np.ndarray) -> list[str]:
    """The codes OpenCV reads on the screen. Its classic detector misses a few percent of codes a phone
    reads (measured: 2-8 % of random page addresses at 4-6 px a module); the ArUco-based one, where
    this OpenCV has it, reads those (0 of 300 missed by the two together)."""
    img = np.ascontiguousarray(img_rgb[:, :, ::-1])
    found: list[str] = []
    for detector in (cv2.QRCodeDetector(), *([cv2.QRCodeDetectorAruco()] if hasattr(cv2, "QRCodeDetectorAruco") else [])):
        ok, texts, _, _ = detector.detectAndDecodeMulti(img)
        found += [t for t in texts if t and t not in found] if ok else []
    return sorted(found)


def run_booth(tmp_path, monkeypatch, frames: int = FRAMES, runtime=None, **share):
    """The booth in front of the real renderer, frame by frame as the loop drives it; returns the
    booth, the screens shown (RGB) and the shelf's clock."""
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(runtime or tmp_path / "run"))
    cfg = Config()
    cfg.snapshot.dir, cfg.snapshot.countdown_s, cfg.snapshot.button_pin = str(tmp_path / "cards"), 1, 0
    cfg.snapshot.card_width, cfg.snapshot.card_height, cfg.snapshot.title = 400, 600, "Maker Faire"
    cfg.share.enabled, cfg.share.address, cfg.share.port = True, "127.0.0.1", 0  # 0: any free port
    for k, v in share.items():
        setattr(cfg.share, k, v)
    booth = build_booth(cfg, Look(), live=False)
    clock = Clock()
    booth.share.shelf.clock = clock
    renderer = Renderer((960, 540))
    camera = np.empty((240, 320, 3), np.uint8)
    camera[:] = CAMERA_GREEN[::-1]
    shown = []
    for i in range(frames):
        if i == PRESS_AT:
            booth.press()
        s = scene(i)
        booth.observe(Frame(camera, 0.0, i), s, camera)
        shown.append(screen_rgb(booth.decorate(renderer.render(s, i / FPS))))
    booth.share.wait_idle()
    booth.store.wait_idle()
    return booth, shown, clock


def next_screen(booth, i: int, s: Scene) -> np.ndarray:
    """One more frame through the booth, after the run."""
    booth.observe(Frame(np.zeros((240, 320, 3), np.uint8), 0.0, i), s, None)
    return screen_rgb(booth.decorate(Renderer((960, 540)).render(s, i / FPS)))


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as r:
        assert r.headers["Cache-Control"] == "no-store"
        return r.read()


def gif_frames(data: bytes) -> list[np.ndarray]:
    image = pytest.importorskip("PIL.Image").open(io.BytesIO(data))
    out = []
    for k in range(image.n_frames):
        image.seek(k)
        out.append(np.asarray(image.convert("RGB")).astype(int))
    return out


def check_stickers(page: str, base: str) -> dict[str, np.ndarray]:
    """Every sticker on the page: animated, looping, its size, the emoticon moving, no camera pixel."""
    names = re.findall(r'<img src="/s/[A-Za-z0-9_-]{22}/([a-z0-9-]+\.(?:gif|png))"', page)
    assert sorted(names) == ["card-0001.png", "sticker-0001-1.gif", "sticker-0001-2.gif", "sticker-0001-group.gif"]
    firsts = {}
    for name in (n for n in names if n.endswith(".gif")):
        data = fetch(f"{base}/{name}")
        assert len(data) <= 1_500_000
        frames = gif_frames(data)
        w, h = sticker.GROUP_SIZE if "group" in name else sticker.PERSON_SIZE
        assert len(frames) == sticker.FRAMES and frames[0].shape == (h, w, 3), name
        moved = [np.abs(a - b).mean() for a, b in zip(frames, frames[1:])]
        assert sum(m > 0.2 for m in moved) >= len(moved) // 3, (name, moved)  # it moves (in the screen's steps)
        assert all(camera_pixels(f.astype(np.uint8)) == 0 for f in frames)
        firsts[name] = frames[0]
    return firsts


def test_a_snapshot_is_a_qr_code_on_screen_then_a_page_of_moving_stickers_that_expires(tmp_path, monkeypatch):
    booth, shown, clock = run_booth(tmp_path, monkeypatch)
    found = read_qr(shown[CAPTURE_AT])  # on screen from the frame of the picture itself
    urls = [t for t in found if t.startswith("http://")]
    assert len(urls) == 1 and re.fullmatch(r"http://127\.0\.0\.1:\d+/s/[A-Za-z0-9_-]{22}", urls[0]), found
    assert not read_qr(shown[CAPTURE_AT - 1])  # and not before it
    url = urls[0]
    assert read_qr(shown[-1]) == found  # still there 10 frames later
    page = fetch(url).decode()
    assert "Maker Faire - No. 1" in page and "deleted in 30 minutes" in page
    firsts = check_stickers(page, url)
    one, group = firsts["sticker-0001-1.gif"], firsts["sticker-0001-group.gif"]
    assert not np.array_equal(one, firsts["sticker-0001-2.gif"])  # two people, two stickers
    assert group.shape[1] > one.shape[1]
    card = cv2.imdecode(np.frombuffer(fetch(url + "/card-0001.png"), np.uint8), cv2.IMREAD_COLOR)
    saved = cv2.imread(str(tmp_path / "cards" / "card-0001.png"))
    assert np.array_equal(card, saved)  # the card shared is the card saved
    folder = tmp_path / "run" / "share" / url.rsplit("/", 1)[1]
    assert folder.is_dir()
    clock.t += 30 * 60
    with pytest.raises(urllib.error.HTTPError) as e:
        fetch(url)
    assert e.value.code == 404 and not folder.exists()
    booth.close()
    assert [p.name for p in (tmp_path / "run" / "share").iterdir()] == [".emoticon-mirror-share.lock"]  # no page


def test_the_attract_screen_shows_the_wifi_code_and_the_snapshot_both(tmp_path, monkeypatch):
    booth, shown, _ = run_booth(tmp_path, monkeypatch, wifi_ssid="Booth", wifi_password="smile-please")
    try:
        assert read_qr(shown[10]) == []  # people in front, no snapshot: the screen is theirs
        codes = read_qr(shown[CAPTURE_AT + 1])
        assert "WIFI:T:WPA;S:Booth;P:smile-please;;" in codes and any(c.startswith("http://") for c in codes)
        # a minute later, nobody in front: the snapshot's code is long gone
        assert read_qr(next_screen(booth, FRAMES + 60 * FPS, Scene())) == ["WIFI:T:WPA;S:Booth;P:smile-please;;"]
    finally:
        booth.close()


def test_the_page_in_headless_chromium(tmp_path, monkeypatch):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium here (./setup.sh --dev installs Debian's chromium where apt can)")
    booth, shown, clock = run_booth(tmp_path, monkeypatch)
    try:
        url = [t for t in read_qr(shown[CAPTURE_AT]) if t.startswith("http://")][0]
        shot = tmp_path / "phone.png"
        args = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                f"--user-data-dir={tmp_path / 'profile'}", "--window-size=390,844"]
        r = subprocess.run([*args, f"--screenshot={shot}", url], capture_output=True, timeout=120)
        dom = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
        assert shot.exists(), r.stderr[-2000:]
        served = {path for path, status in booth.share.server.log if status == 200}
        token = url.rsplit("/", 1)[1]
        assert {f"/s/{token}/sticker-0001-{n}.gif" for n in ("group", "1", "2")} <= served  # the browser fetched them
        assert dom.count("<img") == 4 and "Download the sticker" in dom
        check_stickers(dom, url)
        img = cv2.imread(str(shot))
        assert img.shape[:2] == (844, 390)
        assert img[150:500].std() > 20  # a sticker, not an empty page
        clock.t += 30 * 60  # expired: the browser gets the one line, the files are gone
        gone = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
        assert "Nothing here: the page has expired" in gone and "<img" not in gone
        assert not (tmp_path / "run" / "share" / token).exists()
    finally:
        booth.close()


def no_memory(job):
    """In the sticker process: drawing fails."""
    raise pygame.error("out of memory")


def killed(job):
    """In the sticker process: the process dies (the kernel's OOM killer, a crash in a library)."""
    os._exit(9)


@pytest.mark.parametrize("fault, why", [(no_memory, "out of memory"), (killed, "the sticker process ended")])
def test_a_sticker_that_fails_to_draw_leaves_the_card_page(tmp_path, monkeypatch, caplog, fault, why):
    monkeypatch.setattr(sticker, "make_stickers", fault)
    with caplog.at_level(logging.WARNING, logger="edge.booth.takehome"):
        booth, shown, _ = run_booth(tmp_path, monkeypatch)
    try:
        url = [t for t in read_qr(shown[CAPTURE_AT]) if t.startswith("http://")][0]
        page = fetch(url).decode()
        assert "card-0001.png" in page and ".gif" not in page
        lines = [r.getMessage() for r in caplog.records if "not drawn" in r.getMessage()]
        assert lines == [f"stickers of No. 1 not drawn ({why}); the card is shared"]
        assert (tmp_path / "cards" / "card-0001.png").exists()
        monkeypatch.undo()  # the next snapshot has its stickers again (a new process, if it had died)
        monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path / "run"))
        for i in range(FRAMES, CAPTURE_AT + 5 * FPS):  # pressed once the first picture's freeze is over
            if i == CAPTURE_AT + 3 * FPS:
                booth.press()
            s = scene(i)
            booth.observe(Frame(np.zeros((240, 320, 3), np.uint8), 0.0, i), s, None)
        booth.share.wait_idle()
        assert booth.cards == 2 and len(booth.share.shelf._items) == 2
        assert all(len(item.files) == 4 for item in booth.share.shelf._items.values() if item.number == 2)
    finally:
        booth.close()


def test_a_full_disk_leaves_the_card_and_the_loop(tmp_path, monkeypatch, caplog):
    with faulty_dir(tmp_path, "full") as full, caplog.at_level(logging.ERROR, logger="edge.booth.takehome"):
        booth, shown, _ = run_booth(tmp_path, monkeypatch, runtime=full)
        try:
            lines = [r.getMessage() for r in caplog.records if "not shared" in r.getMessage()]
            assert len(lines) == 1 and "No space left" in lines[0]
            assert (tmp_path / "cards" / "card-0001.png").exists()  # the card itself is saved
            assert len(shown) == FRAMES and read_qr(shown[-1])  # the loop went on, the code shown meanwhile
            assert not read_qr(next_screen(booth, FRAMES, scene(FRAMES)))  # and gone: no code to a dead page
        finally:
            booth.close()


def test_a_busy_port_turns_sharing_off_in_one_line_and_the_booth_runs(tmp_path, monkeypatch, caplog):
    import socket

    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path / "run"))
    with socket.socket() as other, caplog.at_level(logging.ERROR, logger="edge.booth.takehome"):
        other.bind(("127.0.0.1", 0))
        other.listen()
        cfg = Config()
        cfg.snapshot.dir, cfg.snapshot.button_pin = str(tmp_path / "cards"), 0
        cfg.share.enabled, cfg.share.address, cfg.share.port = True, "127.0.0.1", other.getsockname()[1]
        booth = build_booth(cfg, Look(), live=False)
    try:
        assert booth is not None and booth.store is not None and booth.share is None
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 1 and "sharing off: cannot listen on 127.0.0.1:" in lines[0] and "doctor" in lines[0]
    finally:
        booth.close()


def test_without_segno_sharing_is_off_in_one_line(tmp_path, monkeypatch, caplog):
    """It would have failed at the first QR code, in the frame loop."""
    import importlib.util

    find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "segno" else find(name, *a))
    cfg = Config()
    cfg.snapshot.dir, cfg.snapshot.button_pin = str(tmp_path / "cards"), 0
    cfg.share.enabled, cfg.share.address, cfg.share.port = True, "127.0.0.1", 0
    with caplog.at_level(logging.ERROR, logger="edge.booth.takehome"):
        booth = build_booth(cfg, Look(), live=False)
    try:
        assert booth.share is None and [r.getMessage() for r in caplog.records] == [
            "sharing off: no QR codes without segno (./setup.sh installs it; on a Pi: sudo apt install python3-segno)"]
    finally:
        booth.close()


def test_sharing_off_nothing_listens(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path / "run"))
    before = listening_sockets()
    cfg = Config()
    cfg.snapshot.dir, cfg.snapshot.button_pin = str(tmp_path / "cards"), 0
    booth = build_booth(cfg, Look(), live=False)
    try:
        assert booth.share is None and listening_sockets() == before
    finally:
        booth.close()
    cfg.share.enabled, cfg.share.address, cfg.share.port = True, "127.0.0.1", 0
    booth = build_booth(cfg, Look(), live=False)  # the control: on, it does listen
    try:
        assert len(listening_sockets() - before) == 1
    finally:
        booth.close()
    assert listening_sockets() == before
