"""Pictures written whole or not at all: a full disk leaves no half a PNG and says so in one line."""
from __future__ import annotations

import logging

import numpy as np
import pygame
import pytest

from fsfaults import faulty_dir


def picture(size=(400, 300)) -> pygame.Surface:
    rng = np.random.default_rng(0)  # noise does not compress: more than the full folder holds
    return pygame.surfarray.make_surface(rng.integers(0, 256, (*size, 3), dtype=np.uint8))


def test_a_picture_is_saved_whole(tmp_path):
    from edge.atomic import save_picture

    save_picture(picture(), tmp_path / "p.png")
    assert pygame.image.load(str(tmp_path / "p.png")).get_size() == (400, 300)
    assert [p.name for p in tmp_path.iterdir()] == ["p.png"]


@pytest.mark.parametrize("kind", ["full", "readonly"])
def test_a_refusing_disk_is_an_os_error_naming_the_file_and_leaves_nothing(tmp_path, kind):
    from edge.atomic import save_picture

    with faulty_dir(tmp_path, kind) as bad:
        before = sorted(p.name for p in bad.iterdir())
        with pytest.raises(OSError, match="p.png: cannot write"):
            save_picture(picture(), bad / "p.png")
        assert sorted(p.name for p in bad.iterdir()) == before


def test_headless_frames_stop_on_a_full_disk_and_the_mirror_goes_on(tmp_path, caplog):
    """--out on a disk that fills: one warning, no partial frame, and the frames keep being shown."""
    from edge.config import DisplayConfig
    from edge.display import open_display

    with faulty_dir(tmp_path, "full") as bad:
        display = open_display(DisplayConfig(mode="headless", width=320, height=240), str(bad))
        try:
            with caplog.at_level(logging.WARNING):
                for _ in range(3):
                    display.show(picture((320, 240)))
            assert not any(p.name.startswith("frame_") or p.name.endswith(".tmp") for p in bad.iterdir())
            assert sum("writing no more frames" in r.message for r in caplog.records) == 1
        finally:
            display.close()


def test_gallery_and_chart_to_a_full_disk_are_one_line(tmp_path):
    from fakes import assert_one_line_error, cli

    with faulty_dir(tmp_path, "full") as bad:
        assert_one_line_error(cli("gallery", "--out", str(bad / "g.png"), "--size", "64"), 1, "g.png", "cannot write")
        assert not (bad / "g.png").exists()
