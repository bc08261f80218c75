"""The declared config: defaults, errors that name the key, and an example file that cannot drift."""
from __future__ import annotations

import pytest

from conftest import REPO
from edge import config
from edge.config import ConfigError


def write(tmp_path, text: str):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_no_file_means_defaults():
    cfg = config.load(None)
    assert cfg.source.input == "demo" and cfg.detector.max_faces == 4 and cfg.display.mode == "auto"


def test_values_are_read(tmp_path):
    cfg = config.load(write(tmp_path, '[detector]\nmodel = "full"\n[smooth]\ntime_constant_s = 1\n[display]\nrotation = 90\n'))
    assert cfg.detector.model == "full" and cfg.display.rotation == 90
    assert cfg.smooth.time_constant_s == 1.0 and isinstance(cfg.smooth.time_constant_s, float)


def test_motion_shorthand_at_the_top(tmp_path):
    assert config.load(write(tmp_path, 'motion = "off"\n')).motion.mode == "off"
    assert config.load(write(tmp_path, '[motion]\nmode = "on"\nmax_faces = 2\n')).motion.max_faces == 2


@pytest.mark.parametrize("text, names", [
    ('motion = "sometimes"\n', "motion.mode: 'sometimes' is not allowed; choose one of 'auto', 'on', 'off'"),
    ('[detector]\nmodle = "full"\n', "detector.modle: unknown key"),
    ('[dispaly]\nmode = "window"\n', "dispaly: unknown section"),
    ('[detector]\nmodel = "huge"\n', "detector.model: 'huge' is not allowed; choose one of 'short', 'full'"),
    ('[detector]\nmax_faces = 9\n', "detector.max_faces: 9 is out of range 1..4"),
    ('[display]\nrotation = 45\n', "display.rotation: 45 is not allowed"),
    ('[display]\nshow_fps = "yes"\n', "display.show_fps: expected bool"),
    ('[smooth]\ntime_constant_s = "slow"\n', "smooth.time_constant_s: expected float"),
    ("detector = 3\n", "detector: expected a [detector] table"),
    ("[detector\n", "not valid TOML"),
])
def test_bad_config_names_the_key(tmp_path, text, names):
    with pytest.raises(ConfigError) as e:
        config.load(write(tmp_path, text))
    assert names in str(e.value)
    assert "\n" not in str(e.value).strip()


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(tmp_path / "nope.toml")


def test_committed_example_matches_the_declarations():
    assert (REPO / "config.example.toml").read_text() == config.example_toml()


def test_configuration_page_matches_the_declarations():
    assert (REPO / "docs" / "configuration.md").read_text() == config.reference_markdown()


def test_example_parses_to_the_defaults(tmp_path):
    assert config.load(write(tmp_path, config.example_toml())) == config.Config()


def test_the_example_shows_the_exhibitors_keys_and_keeps_tuning_commented_out(tmp_path):
    """An exhibitor reads the keys they may want; the tuning keys follow, commented out, and each is
    still accepted when uncommented."""
    text = config.example_toml()
    head, tuning = text.split("# Tuning:", 1)
    assert 'input = "demo"' in head and "dir = " in head and "title = " in head
    assert "track_every = " not in head and "# track_every = 6" in tuning
    tuned = head.replace("[detector]\n", "[detector]\ntrack_every = 3\n")
    assert config.load(write(tmp_path, tuned)).detector.track_every == 3
    every = {(s, k) for s, keys in config.TUNING.items() for k in keys}
    assert all(f"# {k} = " in tuning for _, k in every)


def test_a_config_saved_with_a_byte_order_mark_is_read(tmp_path):
    """Notepad's "UTF-8" starts the file with a byte-order mark; it was "not valid TOML"."""
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbf[render]\ntone = \"yellow\"\n")
    assert config.load(path).render.tone == "yellow"
