"""Every setting, declared once: default, allowed values and a description per key.

The TOML file may set any subset; an unknown key or a bad value is an error that names the key and
what is allowed (a typo in a kiosk's config must not silently fall back to a default).
`config.example.toml` is generated from these declarations, so the documentation cannot drift.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from edge.state import SKIN_TONES


class ConfigError(Exception):
    """A bad config file or value; the message names the key."""


def key(default: Any, doc: str, choices: tuple | None = None, lo: float | None = None, hi: float | None = None):
    return field(default=default, metadata={"doc": doc, "choices": choices, "lo": lo, "hi": hi})


@dataclass
class SourceConfig:
    input: str = key("demo", "demo | picamera | /dev/videoN | camera index | video file | image file | folder")
    width: int = key(640, "analysis frame width asked of the camera", lo=64, hi=4096)
    height: int = key(480, "analysis frame height asked of the camera", lo=64, hi=4096)
    fps: int = key(30, "frame rate asked of the camera; images, folders and the demo are paced to it (videos to their own)",
                   lo=1, hi=120)
    loop: bool = key(False, "video files: start again at the end (false = play once, then the run ends; under "
                            "systemd a video always loops)")
    timeout_s: float = key(2.0, "a camera read that takes longer than this counts as lost", lo=0.1, hi=60)
    wait_s: float = key(-1.0, "a source missing at start (camera not plugged in yet): wait this many seconds for it, "
                              "showing 'Waiting for the camera'; 0 = fail at once; -1 = for ever when run by systemd, "
                              "else fail at once", lo=-1, hi=31536000)
    lock_light_s: float = key(3.0, "picamera: let auto exposure and white balance settle this many seconds, then hold "
                                   "them (the skin tone is measured in the camera's units, so a visitor in a white "
                                   "shirt does not darken everybody's skin); 0 = never hold them", lo=0, hi=600)
    relock_min: float = key(30.0, "picamera: settle and hold again this often (daylight changes through the day)",
                            lo=1, hi=1440)
    calibration: str = key("", "the grey-card calibration `emoticon-mirror calibrate` writes and the mirror reads "
                               "(empty = calibration.json in $STATE_DIRECTORY, i.e. /var/lib/emoticon-mirror under "
                               "the service, else ~/.local/state/emoticon-mirror); used only with the camera and "
                               "frame size it was made with, which then starts at the calibrated exposure and white "
                               "balance and keeps them (lock_light_s and relock_min unused)")


@dataclass
class DetectorConfig:
    model: str = key("short", "short: faces within ~2 m (128x128 input); full: faces far from the camera",
                     choices=("short", "full"))
    min_score: float = key(0.5, "detections below this confidence are ignored", lo=0.05, hi=0.99)
    max_faces: int = key(4, "at most this many faces, largest first", lo=1, hi=4)
    threads: int = key(2, "interpreter threads for the detector", lo=1, hi=8)
    track_every: int = key(6, "with the face mesh, faces are followed by their mesh and the detector runs every this "
                              "many frames (and at once when a face is lost); 1 = detect every frame", lo=1, hi=60)
    far: bool = key(True, "while tracking, the detector also looks at two tiles of a 4x3 grid per run, in turn, "
                          "to find faces 40-60 px wide (1.5-2 m from a Pi camera) within about a second")


@dataclass
class ClassifyConfig:
    models_dir: str = key("", "folder with manifest.json and the .tflite files; empty = models_tflite/ of this checkout")
    threads: int = key(1, "interpreter threads per classifier", lo=1, hi=8)
    views: int = key(2, "test-time views of each face for the expression model: 1 = plain, 2 = + its mirror image "
                        "(chosen on val for the FER+ model), 4 = + mirror and a closer zoom (costs 4x the model's "
                        "0.3 ms)", choices=(1, 2, 4))
    group_views: int = key(1, "the expression's views while three or more faces are in view: a group's faces are "
                              "smaller on screen, each is read ~10 times a second and averaged over time anyway, "
                              "and the frame budget is shared", choices=(1, 2, 4))


@dataclass
class SmoothConfig:
    time_constant_s: float = key(0.4, "how long a change must last to show: larger is calmer, smaller is livelier",
                                 lo=0.0, hi=10.0)
    track_timeout_s: float = key(1.0, "a face unseen this long is forgotten", lo=0.1, hi=30.0)
    eyewear_time_constant_s: float = key(
        1.5, "as time_constant_s, for the eyewear: glasses come on and off rarely, a reflection or a turned head "
             "lasts a frame or two", lo=0.0, hi=10.0)
    mask_time_constant_s: float = key(1.5, "as time_constant_s, for the face mask", lo=0.0, hi=10.0)
    glasses_shape_time_constant_s: float = key(1.5, "as time_constant_s, for the glasses' shape", lo=0.0, hi=10.0)
    skin_tone_time_constant_s: float = key(
        4.0, "as time_constant_s, for the skin tone: read about once a second, the reading moves with the light and "
             "the turn of the head, the person's skin does not", lo=0.0, hi=30.0)

    def head_time_constants(self) -> dict[str, float]:
        """The heads that smooth at their own pace (edge/perceive/smooth.py Smoother)."""
        return {"eyewear": self.eyewear_time_constant_s, "mask": self.mask_time_constant_s,
                "glasses_shape": self.glasses_shape_time_constant_s, "skin_tone": self.skin_tone_time_constant_s}


@dataclass
class DisplayConfig:
    mode: str = key("auto", "auto: kmsdrm on a console, a window on a desktop, headless with no display",
                    choices=("auto", "fullscreen", "window", "headless"))
    wait_s: float = key(-1.0, "a screen missing at start (monitor off at boot): wait this many seconds for it; "
                              "0 = fail at once; -1 = for ever when run by systemd, else fail at once", lo=-1, hi=31536000)
    width: int = key(0, "window / headless width; 0 = the screen's own (fullscreen) or 1280 (window, headless)",
                     lo=0, hi=7680)
    height: int = key(0, "window / headless height; 0 = as for width", lo=0, hi=4320)
    rotation: int = key(0, "rotate the picture for screens mounted sideways or upside down", choices=(0, 90, 180, 270))
    max_fps: int = key(30, "present at most this many frames a second (the camera rarely gives more)", lo=1, hi=240)
    pipeline: str = key("auto", "perceive the next frame while this one is drawn: process = in a process of its own "
                                "(more frames a second when the loop is slower than the camera, as on a Pi; more "
                                "memory), thread = on a thread (little gain: drawing holds Python's GIL), off = one "
                                "after the other, auto = process with 2 or more cores; bench measures each",
                        choices=("auto", "off", "thread", "process"))
    show_fps: bool = key(False, "start with the FPS / latency overlay on (key f toggles it)")
    pip: bool = key(False, "show a small camera picture in a corner")
    out_dir: str = key("", "headless: write every Nth presented frame here as PNG (empty = write none)")
    save_every: int = key(1, "headless: write every Nth frame", lo=1, hi=100000)
    save_max: int = key(3000, "headless: stop writing frames after this many (one warning; the mirror runs on), "
                              "so a forgotten --out cannot fill the disk", lo=1, hi=10_000_000)


@dataclass
class RenderConfig:
    tone: str = key("auto", "auto = the measured skin tone; or force one tone (yellow = the classic emoji) for everybody",
                    choices=("auto", "yellow", *SKIN_TONES))


@dataclass
class MotionConfig:
    mode: str = key("auto", "live motion (blinks, mouth, brows, head tilt) from the face mesh: on = every face; "
                            "auto = the first max_faces faces, and none while frames take longer than 1/min_fps; "
                            "off = expression only", choices=("auto", "on", "off"))
    max_faces: int = key(4, "auto: faces that get live motion, largest first", lo=1, hi=4)
    min_fps: int = key(20, "auto: motion is shed for 30 s when a frame's processing exceeds 1/min_fps", lo=1, hi=120)
    blendshapes: int = key(1, "faces (largest first) whose emoticon follows MediaPipe's 52 blendshapes (winks, one "
                              "brow, pucker, one-sided smile...) through the 478-point mesh; the others use the "
                              "cheaper 468-point mesh, as all do while frames are slower than 1/min_fps", lo=0, hi=4)
    full_rate_faces: int = key(2, "faces (largest first) whose mesh runs on every frame; the smaller faces of a "
                                  "group take turns, every other frame each (their motion moves at half the camera "
                                  "rate, and a group of four costs three meshes a frame instead of four); 0 = every "
                                  "face takes turns, the largest too: half the mesh's cost for a slow device", lo=0, hi=4)
    turns_when_busy: bool = key(True, "while a frame's processing takes most of the camera's frame interval (a Pi 4), "
                                      "every face's mesh takes turns as with full_rate_faces = 0, so the loop keeps "
                                      "the camera's rate; full rate again once frames take less than half of it")
    threads: int = key(1, "interpreter threads for the face mesh", lo=1, hi=8)


@dataclass
class SnapshotConfig:
    dir: str = key("", "the snapshot button saves cards here as card-NNNN.png (empty = no snapshots: "
                       "the key and the button do nothing)")
    include_photo: bool = key(False, "put the camera picture on the card beside the emoticons (needs a sign at "
                                     "the booth: see README, Privacy)")
    countdown_s: int = key(3, "seconds counted down on screen before the card is taken", lo=0, hi=10)
    title: str = key("", "event title printed on the card (any language; look.font must have its glyphs)")
    card_width: int = key(1200, "card width in pixels (1200 x 1800 = 4x6 in at 300 dpi)", lo=240, hi=4800)
    card_height: int = key(1800, "card height in pixels", lo=240, hi=4800)
    button_pin: int = key(17, "GPIO pin (BCM number) of a push button to ground; 0 = no button", lo=0, hi=27)
    print: str = key("", "CUPS printer name: each card is also sent there with lp (empty = no printing)")
    print_media: str = key("", "lp -o media=... for the printer's paper, e.g. 4x6 or w288h432 (empty = the "
                               "printer's default)")
    print_timeout_s: float = key(15.0, "give up on an lp call that takes longer", lo=1.0, hi=120.0)


@dataclass
class LookConfig:
    background_top: str = key("#1a1c38", "background colour at the top, #rrggbb")
    background_bottom: str = key("#302254", "background colour at the bottom, #rrggbb (the same as the top = flat)")
    background_image: str = key("", "PNG or JPEG file scaled to cover the screen instead of the colours")
    logo: str = key("", "PNG file (transparency kept) shown in a corner of the screen and at the top of the card")
    title: str = key("", "attract-screen title in any language (empty = 'Step closer - become an emoticon')")
    hint: str = key("", "line under the title (empty = 'Smile, frown, look surprised: it mirrors you live')")
    font: str = key("", "font file or family for all text, e.g. 'Noto Sans CJK KR' (empty = the built-in font, "
                        "and a Noto font found on the system for text it cannot draw)")


@dataclass
class StatsConfig:
    enabled: bool = key(False, "count visitors per hour (counts only: no pictures, no identities)")
    dir: str = key("", "where visitors.json is kept (empty = $STATE_DIRECTORY, i.e. /var/lib/emoticon-mirror "
                       "under the service, else ~/.local/state/emoticon-mirror)")
    min_visit_s: float = key(2.0, "a face seen at least this long counts as a visitor", lo=0.5, hi=60.0)
    flush_s: float = key(60.0, "write the counts at most this often (and at exit)", lo=1.0, hi=3600.0)
    keep_days: int = key(400, "hours older than this are dropped from the file", lo=1, hi=3650)


@dataclass
class ShareConfig:
    enabled: bool = key(False, "after a snapshot, a QR code on screen leads a phone on the booth's own Wi-Fi to a "
                               "page with the card and moving stickers (docs/booth.md); needs snapshot.dir")
    address: str = key("10.42.0.1", "the booth hotspot's IPv4 address, the only one the server listens on "
                                    "(NetworkManager's hotspot: 10.42.0.1)")
    interface: str = key("wlan0", "the hotspot's network interface (doctor checks that it has the address)")
    port: int = key(8080, "the server's TCP port", lo=1024, hi=65535)
    expire_min: int = key(30, "each snapshot's page and files are deleted this many minutes after the picture",
                          lo=1, hi=1440)
    wifi_ssid: str = key("", "the hotspot's network name: a Wi-Fi QR code on screen lets a phone join in one scan "
                             "(empty = no Wi-Fi code)")
    wifi_password: str = key("", "the hotspot's WPA password, 8 to 63 characters (empty = an open network)")
    qr_s: float = key(20.0, "how long a snapshot's QR code stays on screen", lo=3.0, hi=300.0)


@dataclass
class Config:
    source: SourceConfig = field(default_factory=SourceConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)
    smooth: SmoothConfig = field(default_factory=SmoothConfig)
    display: DisplayConfig = field(default_factory=DisplayConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    snapshot: SnapshotConfig = field(default_factory=SnapshotConfig)
    look: LookConfig = field(default_factory=LookConfig)
    stats: StatsConfig = field(default_factory=StatsConfig)
    share: ShareConfig = field(default_factory=ShareConfig)


def state_dir() -> Path:
    """Where an empty stats.dir or source.calibration points: systemd's StateDirectory= (exported as
    $STATE_DIRECTORY), else the XDG state folder."""
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    if state:
        return Path(state)
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "emoticon-mirror"


def _check(section: str, f: Any, value: Any) -> Any:
    name = f"{section}.{f.name}"
    meta = f.metadata
    want = type(f.default)
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not want:
        raise ConfigError(f"{name}: expected {want.__name__}, got {value!r}")
    if meta["choices"] is not None and value not in meta["choices"]:
        allowed = ", ".join(repr(c) for c in meta["choices"])
        raise ConfigError(f"{name}: {value!r} is not allowed; choose one of {allowed}")
    if meta["lo"] is not None and not meta["lo"] <= value <= meta["hi"]:
        raise ConfigError(f"{name}: {value!r} is out of range {meta['lo']}..{meta['hi']}")
    return value


def from_dict(data: dict[str, Any]) -> Config:
    cfg = Config()
    sections = {f.name: f for f in fields(Config)}
    for section, values in data.items():
        if section == "motion" and isinstance(values, str):
            values = {"mode": values}  # `motion = "off"` at the top is short for [motion] mode = "off"
        if section not in sections:
            raise ConfigError(f"{section}: unknown section; known: {', '.join(sections)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{section}: expected a [{section}] table")
        target = getattr(cfg, section)
        known = {f.name: f for f in fields(target)}
        for name, value in values.items():
            if name not in known:
                raise ConfigError(f"{section}.{name}: unknown key; known: {', '.join(known)}")
            setattr(target, name, _check(section, known[name], value))
    _check_share(cfg)
    return cfg


def _check_share(cfg: Config) -> None:
    """What one key cannot say alone: sharing needs snapshots, a literal address, a WPA password."""
    import ipaddress

    s = cfg.share
    try:
        ipaddress.IPv4Address(s.address)
    except ValueError:
        raise ConfigError(f"share.address: {s.address!r} is not an IPv4 address (e.g. 10.42.0.1)") from None
    if s.wifi_password and not 8 <= len(s.wifi_password) <= 63:
        raise ConfigError(f"share.wifi_password: WPA needs 8 to 63 characters, got {len(s.wifi_password)}")
    if s.wifi_password and not s.wifi_ssid:
        raise ConfigError("share.wifi_password: set share.wifi_ssid too (the network's name)")
    if s.enabled and not cfg.snapshot.dir:
        raise ConfigError("share.enabled: sharing needs snapshots; set snapshot.dir")


def load(path: str | Path | None) -> Config:
    if path is None:
        return Config()
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        # a byte-order mark (Notepad's "UTF-8") is not TOML, but it is not the exhibitor's mistake either
        data = tomllib.loads(raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    except UnicodeDecodeError as e:  # tomllib decodes before it parses: binary garbage ends here
        raise ConfigError(f"{path}: not a text file (byte {e.start} is not UTF-8); expected TOML") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    try:
        return from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


# Keys an exhibitor never needs to touch: performance and measurement tuning. config-example lists them
# last, commented out (they are accepted all the same; docs/configuration.md documents every key).
TUNING = {
    "source": {"timeout_s", "lock_light_s", "relock_min", "calibration"},
    "detector": {"min_score", "threads", "track_every", "far"},
    "classify": {"threads", "views", "group_views"},
    "smooth": {"track_timeout_s", "eyewear_time_constant_s", "mask_time_constant_s",
               "glasses_shape_time_constant_s", "skin_tone_time_constant_s"},
    "display": {"max_fps", "pipeline", "save_every", "save_max"},
    "motion": {"min_fps", "blendshapes", "full_rate_faces", "turns_when_busy", "threads"},
    "snapshot": {"print_timeout_s"},
    "stats": {"min_visit_s", "flush_s"},
    "share": {"qr_s"},
}


def example_toml() -> str:
    """The documented example file: the exhibitor's keys with their defaults, what they do and what is
    allowed; then the tuning keys, commented out."""
    lines = ["# Emoticon Mirror configuration. Every key is optional; shown with its default.",
             "# Generated from edge/config.py (python -m edge config-example > config.example.toml).", ""]
    tuning = ["# Tuning: rarely needed (performance and measurement). Uncomment a key under its section",
              "# above to change it; docs/configuration.md says what each does.", ""]
    for section in fields(Config):
        keys = [f for f in fields(section.default_factory())]  # type: ignore[misc]
        mine = [f for f in keys if f.name not in TUNING.get(section.name, ())]
        rare = [f for f in keys if f.name in TUNING.get(section.name, ())]
        lines.append(f"[{section.name}]")
        for f in mine:
            lines += _documented(f)
        lines.append("")
        if rare:
            tuning.append(f"# [{section.name}]")
            for f in rare:
                doc, value = _documented(f)
                tuning += [doc, "# " + value]
            tuning.append("")
    return "\n".join(lines + tuning)


def _documented(f) -> list[str]:
    meta = f.metadata
    allowed = ""
    if meta["choices"] is not None:
        allowed = " (" + " | ".join(str(c) for c in meta["choices"]) + ")"
    elif meta["lo"] is not None:
        allowed = f" ({meta['lo']}..{meta['hi']})"
    return [f"# {meta['doc']}{allowed}", f"{f.name} = {_toml_value(f.default)}"]


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(v)


def reference_markdown() -> str:
    """docs/configuration.md: every key by section, its default, what is allowed and what it does."""
    lines = ["# Configuration", "",
             "<!-- Generated from edge/config.py, checked by a test; to regenerate: python -c \"from edge.config import "
             "reference_markdown as r; print(r(), end='')\" > docs/configuration.md -->", "",
             "One TOML file: `--config PATH` (the service reads `/etc/emoticon-mirror/config.toml`). Every key is "
             "optional; an unknown key or a bad value stops the mirror with exit code 2 and a message that names "
             "the key and what is allowed. `emoticon-mirror config-example` prints a documented example file "
             "(`config.example.toml`). `motion = \"off\"` at the top is short for `[motion] mode = \"off\"`.", ""]
    for section in fields(Config):
        lines += [f"## [{section.name}]", "", "| key | default | allowed | what it does |", "|---|---|---|---|"]
        for f in fields(section.default_factory()):  # type: ignore[misc]
            meta = f.metadata
            if meta["choices"] is not None:
                allowed = ", ".join(f"`{_toml_value(c)}`" for c in meta["choices"])
            elif meta["lo"] is not None:
                allowed = f"{meta['lo']}..{meta['hi']}"
            else:
                allowed = {bool: "`true`, `false`", str: "text"}.get(type(f.default), type(f.default).__name__)
            doc = meta["doc"].replace("|", "\\|")
            lines.append(f"| `{f.name}` | `{_toml_value(f.default)}` | {allowed} | {doc} |")
        lines.append("")
    return "\n".join(lines)
