"""Snapshot parts on their own: the 3-2-1, the card, saving with faults, printing with a fake lp,
and the GPIO button on gpiozero's mock pins."""
from __future__ import annotations

import os
import stat

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

from edge.booth.cardstore import CardStore  # noqa: E402
from edge.booth.printer import Printer, PrintError  # noqa: E402
from edge.booth.card import compose_card  # noqa: E402
from edge.render.look import Look  # noqa: E402
from edge.booth.snapshot import FREEZE_S, Countdown  # noqa: E402
from edge.state import EmoticonState, FaceView  # noqa: E402
from fsfaults import faulty_dir  # noqa: E402
from fakes import CAMERA_GREEN, camera_pixels, fake_lp  # noqa: F401


def faces(n: int = 2) -> list[FaceView]:
    states = [EmoticonState("happy", "medium"), EmoticonState("surprise", "yellow", "glasses")]
    return [FaceView(i + 1, states[i % 2], 0.3 + 0.4 * i) for i in range(n)]


def rgb(surf: pygame.Surface) -> np.ndarray:
    return pygame.surfarray.array3d(surf).transpose(1, 0, 2)


def test_countdown_counts_3_2_1_then_freezes_once():
    c = Countdown(3)
    assert c.number(0.0) is None and not c.tick(0.0)
    assert c.press(10.0) and not c.press(10.5)  # a second press while counting is ignored
    assert [c.number(t) for t in (10.0, 10.9, 11.0, 12.5, 12.99)] == [3, 3, 2, 1, 1]
    assert not c.tick(12.99) and c.tick(13.0) and c.state == "frozen"
    assert not c.tick(13.1) and not c.press(13.2)
    assert not c.tick(13.0 + FREEZE_S) and c.state == "idle" and c.press(20.0)


def test_card_has_faces_date_number_and_no_camera_pixels_unless_asked():
    camera = np.zeros((480, 640, 3), np.uint8)
    camera[:] = CAMERA_GREEN
    look = Look()
    plain = rgb(compose_card(faces(), (600, 900), look, 12, "Expo 2026", when=1_790_000_000.0))
    assert plain.shape == (900, 600, 3)
    assert camera_pixels(plain) == 0
    yellow = np.all(np.abs(plain.astype(int) - (255, 204, 77)) < 30, axis=2).sum()
    assert yellow > 0.02 * 600 * 900  # the yellow emoticon is large
    with_photo = rgb(compose_card(faces(), (600, 900), look, 12, when=1_790_000_000.0, photo_rgb=camera))
    assert camera_pixels(with_photo) > 0.1 * 600 * 900


def test_printer_passes_the_card_media_and_title_to_lp(tmp_path):
    lp = fake_lp(tmp_path / "bin", 'echo "request id is booth-7 (1 file(s))"')
    card = tmp_path / "card-0001.png"
    card.write_bytes(b"png")
    answer = Printer("booth", "4x6", 5.0, lp=lp).send("card 0001", card)
    assert "booth-7" in answer
    args = (tmp_path / "bin" / "args").read_text().split("\n")
    assert args[:2] == ["-d", "booth"] and "media=4x6" in args and args[-2:] == [str(card), ""]


@pytest.mark.parametrize("body,words", [
    ('echo "lp: Error - The printer or class does not exist." >&2; exit 1', "printer or class does not exist"),
    ('echo "lp: Too many active jobs." >&2; exit 1', "Too many active jobs"),
    ("sleep 30", "did not answer in 1 s"),
])
def test_printer_failures_are_one_line(tmp_path, body, words):
    lp = fake_lp(tmp_path / "bin", body)
    with pytest.raises(PrintError, match=words) as e:
        Printer("booth", timeout_s=1.0, lp=lp).send("card", tmp_path / "x.png")
    assert "\n" not in str(e.value) and str(e.value).startswith("printer booth: ")
    with pytest.raises(PrintError, match="not found"):
        Printer("booth", lp=str(tmp_path / "no-lp")).send("card", tmp_path / "x.png")


def card_rgb(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (90, 60, 3), dtype=np.uint8)


def test_cards_are_numbered_after_those_already_there_and_printed(tmp_path):
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "card-0041.png").write_bytes(b"old")
    lp = fake_lp(tmp_path / "bin", "cat > /dev/null; echo ok")
    store = CardStore(tmp_path / "cards", Printer("booth", lp=lp))
    n = store.reserve()
    store.submit(n, card_rgb(1))
    store.wait_idle()
    assert n == 42 and (tmp_path / "cards" / "card-0042.png").exists()
    got = pygame.image.load(str(tmp_path / "cards" / "card-0042.png"))
    assert np.array_equal(rgb(got), card_rgb(1))
    assert store.status()[1].ok and "No. 42" in store.status()[1].line
    assert str(tmp_path / "cards" / "card-0042.png") in (tmp_path / "bin" / "args").read_text()
    store.close()


def open_in(folder) -> list[str]:
    """This process's open files inside `folder` (a stick with one open cannot be unmounted)."""
    fds = [os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")]
    return [p for p in fds if p.startswith(str(folder.resolve()) + os.sep)]


def test_two_mirrors_sharing_a_folder_number_their_cards_apart(tmp_path):
    folder = tmp_path / "cards"
    folder.mkdir()
    one, two = CardStore(folder), CardStore(folder)  # both started on an empty folder
    numbers = [one.reserve(), two.reserve(), two.reserve(), one.reserve()]  # pressed in this order
    assert numbers == [1, 2, 3, 4]
    for store, n in zip([one, two, two, one], numbers):
        store.submit(n, card_rgb(n))
    one.wait_idle(), two.wait_idle()
    for n in numbers:  # each card under its own number, none written over another
        assert np.array_equal(rgb(pygame.image.load(str(folder / f"card-{n:04d}.png"))), card_rgb(n))
    assert "No. 4" in one.status()[1].line and "No. 3" in two.status()[1].line
    assert sorted(p.name for p in folder.iterdir()) == [f"card-{n:04d}.png" for n in numbers]  # no claims left
    assert not open_in(folder)  # nothing held open: the stick unmounts
    one.close(), two.close()


def test_a_claim_left_by_a_killed_mirror_only_skips_its_number(tmp_path):
    (tmp_path / "card-0002.png").write_bytes(b"old")
    (tmp_path / ".card-0003.claim").write_bytes(b"")  # a mirror killed while writing card 3
    store = CardStore(tmp_path)
    n = store.reserve()
    store.submit(n, card_rgb(4))
    store.wait_idle()
    assert n == 4 and (tmp_path / "card-0004.png").exists() and not (tmp_path / ".card-0004.claim").exists()
    store.close()


@pytest.mark.parametrize("kind", ["full", "readonly"])
def test_a_full_or_read_only_folder_keeps_the_card_prints_it_and_saves_it_later(tmp_path, kind):
    lp = fake_lp(tmp_path / "bin", f'cat > "{tmp_path}/bin/stdin"; echo ok')
    with faulty_dir(tmp_path, kind) as bad:
        store = CardStore(bad, Printer("booth", lp=lp))
        store.submit(store.reserve(), card_rgb(2))
        store.wait_idle()
        status = store.status()[1]
        assert not status.ok and status.line == "No. 1 is kept and will be saved"  # the folder's name: in the log
        assert store.pending() == 1
        # printed all the same, from memory through lp's stdin
        assert (tmp_path / "bin" / "stdin").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the folder can be written again (as root: a fresh stick mounted at the same place)
    if os.geteuid() == 0 and os.system(f"mount -t tmpfs -o size=1m tmpfs {bad}") != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        store.close()
        assert store.pending() == 0 and (bad / "card-0001.png").exists()
    finally:
        if os.geteuid() == 0:
            os.system(f"umount -l {bad}")


def test_a_pulled_usb_stick_is_noticed(tmp_path, caplog):
    import logging

    if os.geteuid() != 0:
        pytest.skip("needs a mount point (root)")
    mnt = tmp_path / "stick"
    mnt.mkdir()
    if os.system(f"mount -t tmpfs -o size=1m tmpfs {mnt}") != 0:
        pytest.skip("cannot mount a tmpfs here")
    store = CardStore(mnt)
    os.system(f"umount {mnt}")  # pulled out: the empty mount point folder is still there
    with caplog.at_level(logging.WARNING, logger="edge.booth.cardstore"):
        store.submit(store.reserve(), card_rgb(3))
        store.wait_idle()
    assert any("USB stick removed" in r.getMessage() for r in caplog.records) and not list(mnt.iterdir())
    assert store.status()[1].line == "No. 1 is kept and will be saved"
    store.close(timeout_s=1)


def test_gpio_button_press_on_mock_pins():
    mock = pytest.importorskip("gpiozero.pins.mock")
    from edge.booth.button import open_button

    factory = mock.MockFactory()
    presses = []
    button = open_button(17, lambda: presses.append(1), pin_factory=factory)
    assert button is not None
    pin = factory.pin(17)
    pin.drive_low()
    pin.drive_high()
    assert presses == [1]
    button.close()
    assert open_button(0, lambda: None) is None  # pin 0: no button


def test_card_keeps_the_live_pose_the_screen_showed():
    from edge.render.appearance import face_looks
    from edge.state import Motion

    still = FaceView(1, EmoticonState("happy", "yellow"), 0.5)
    winking = FaceView(1, EmoticonState("happy", "yellow"), 0.5, Motion(eye_open_left=0.0, mouth_open=1.0))
    assert face_looks(winking)[1] != face_looks(still)[1]
    a = rgb(compose_card([still], (300, 450), Look(), 1, when=0.0))
    b = rgb(compose_card([winking], (300, 450), Look(), 1, when=0.0))
    assert (np.abs(a.astype(int) - b).max(axis=2) > 40).sum() > 500  # the open mouth and shut eye are on it


def test_cards_are_readable_by_the_exhibitor_under_the_units_umask(tmp_path):
    """The unit's UMask=0077 made cards 0600 and their folder 0700: on a stick the exhibitor could
    not open them. Cards are 0644 and a folder the mirror makes is 0755, whatever the umask."""
    from edge.booth.booth import build_booth
    from edge.config import Config

    cfg = Config()
    cfg.snapshot.dir = str(tmp_path / "stick" / "cards")
    old = os.umask(0o077)
    try:
        booth = build_booth(cfg, Look(), live=False)
        booth.store.submit(booth.store.reserve(), card_rgb(5))
        booth.store.wait_idle()
    finally:
        os.umask(old)
    booth.close()
    for folder in (tmp_path / "stick", tmp_path / "stick" / "cards"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755, folder
    assert stat.S_IMODE((tmp_path / "stick" / "cards" / "card-0001.png").stat().st_mode) == 0o644
