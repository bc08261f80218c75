"""emoticon-mirror: run | analyze | consistency | bench | doctor | calibrate | stats | gallery | config-example.

Every expected failure (bad config, missing model, no camera, unreadable file) ends as one line on
stderr and a non-zero exit; --debug adds the traceback for whoever is fixing it.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from edge import __version__, build, calibration
from edge import config as config_mod
from edge.config import Config, ConfigError
from edge.display import DisplayError
from edge.notify import Notifier
from edge.perceive.half import PerceptionProcessError
from edge.runtime import ModelError
from edge.sources import SourceError, is_camera

log = logging.getLogger("edge")

EXIT_ERROR, EXIT_CONFIG = 1, 2


def cmd_run(args: argparse.Namespace, cfg: Config) -> int:
    from edge.booth.booth import build_booth
    from edge.display import open_display
    from edge.render import Renderer
    from edge.render.look import Look
    from edge.sources import open_source
    from edge.sources.files import is_video
    from edge.waiting import wait_for, wait_limit

    if args.source:
        cfg.source.input = args.source
    if args.display:
        cfg.display.mode = args.display
    if args.motion:
        cfg.motion.mode = args.motion
    if args.loop:
        cfg.source.loop = True
    if args.snapshot_at and not cfg.snapshot.dir:
        raise ConfigError("--snapshot-at: snapshots are off; set snapshot.dir in the config")
    look = Look.from_config(cfg.look)  # a missing logo or bad colour stops here, before the screen
    light = calibration.for_camera(cfg.source)
    if light is not None:
        log.info("grey-card calibration in use (made %.0f days ago)", light.age_days())
    booth = None
    notifier = Notifier()
    if notifier.enabled and not cfg.source.loop:
        # a clip that ended the run (exit 0) was started again by systemd until its start limit
        cfg.source.loop = True
        if is_video(cfg.source.input):
            log.info("%s: under systemd a video plays on at its end (source.loop)", cfg.source.input)
    stop = threading.Event()

    def on_signal(signum: int, _frame) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        notifier.stopping()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):  # first: waiting for the screen must end on a stop too
        signal.signal(sig, on_signal)
    screen_wait = wait_limit(cfg.display.wait_s, notifier.enabled)
    display = wait_for("screen", lambda: open_display(cfg.display, args.out, fallback=screen_wait == 0),
                       (DisplayError,), screen_wait, stop, notifier)
    if display is None:  # stopped while waiting: the same summary line, of no frames
        from edge.app import LoopStats

        notifier.close()
        print(json.dumps(LoopStats().summary()))
        return 0
    mirror = None
    try:
        renderer = Renderer(display.size, pip=cfg.display.pip, look=look)
        booth = build_booth(cfg, look, is_camera(cfg.source.input))
        mirror = build.mirror(cfg, lambda: open_source(cfg.source.input, cfg.source, light), renderer, display,
                              pace=not args.unpaced, source_wait_s=wait_limit(cfg.source.wait_s, notifier.enabled),
                              booth=booth)
        mirror.on_present.append(lambda st, scene: notifier.frame_shown(st.fps_recent(), st.faces_now, scene.message))
        if booth is not None and args.snapshot_at:
            # as if the key were pressed at these frames: try the card and the printer with no keyboard
            mirror.on_present.append(lambda st, scene: booth.press() if st.frames + 1 in args.snapshot_at else None)
        stats = mirror.run(args.frames, stop)
    finally:
        if mirror is not None:
            mirror.close()  # the perceiving process, if any
        if booth is not None:
            booth.close()  # cards still being written, the last visitor counts
        display.close()
        notifier.close()
    summary = stats.summary()
    if booth is not None and booth.store is not None:
        summary["cards"] = booth.cards
    print(json.dumps(summary))
    return 0


def cmd_stats(args: argparse.Namespace, cfg: Config) -> int:
    from edge.booth.visitors import StatsFileError, stats_path
    from edge.booth.visitors_report import report

    path = stats_path(args.dir if args.dir is not None else cfg.stats.dir)
    if not path.exists():
        print(f"error: no visitor counts at {path} (stats.enabled = true in the config? the service keeps "
              "them in /var/lib/emoticon-mirror: --dir /var/lib/emoticon-mirror)", file=sys.stderr)
        return EXIT_ERROR
    try:
        print(report(path, Path(args.chart) if args.chart else None, args.hours))
    except StatsFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    if args.chart:
        print(f"chart: {args.chart}")
    return 0


def cmd_analyze(args: argparse.Namespace, cfg: Config) -> int:
    from edge.commands.analyze import Analyzer, expand
    from edge.sources.files import IMAGE_SUFFIXES

    analyzer = Analyzer(build.perception(cfg, still=True), None if cfg.render.tone == "auto" else cfg.render.tone)
    out_dir = Path(args.emoticon_out) if args.emoticon_out else None
    if out_dir:
        import pygame

        from edge.render import draw_emoticon

        out_dir.mkdir(parents=True, exist_ok=True)
    paths = list(expand(args.paths))
    if not paths:
        raise SourceError(f"{' '.join(args.paths)}: no images here ({', '.join(sorted(IMAGE_SUFFIXES))})")
    failed = 0
    for path in paths:
        result = analyzer.analyze_path(path)
        failed += "error" in result
        if out_dir and "faces" in result:
            for i, face in enumerate(result["faces"]):
                png = out_dir / f"{path.stem}_face{i}.png"
                pygame.image.save(draw_emoticon(analyzer.state_for(face), args.emoticon_size), str(png))
                face["emoticon"] = str(png)
        if args.json:
            print(json.dumps(result), flush=True)
        elif "error" in result:
            print(f"{path}: error: {result['error']}", flush=True)
        else:
            summary = "; ".join(
                ", ".join([f"face {f['box']}"] + [f"{h} {f[h]['label']}" for h in analyzer.classes if h in f])
                for f in result["faces"]) or "no face"
            print(f"{path}: {summary}", flush=True)
    return EXIT_ERROR if failed else 0


def cmd_consistency(args: argparse.Namespace, cfg: Config) -> int:
    from edge.commands import consistency as cons

    from edge.commands.analyze import expand

    if not any(True for _ in expand(args.paths)):
        print(f"error: consistency: no image in {' '.join(args.paths)}", file=sys.stderr)
        return EXIT_CONFIG
    still = args.path == "analyze"
    perception = build.perception(cfg, still=still)
    perceive = cons.analyze_perceiver(perception) if still else cons.live_perceiver(perception)
    grid = cons.Grid(sizes=tuple(args.sizes), positions=args.positions, seed=args.seed)
    faces, errors = cons.check_images(args.paths, perception.plain_detector, perception.classifiers, perceive, grid)
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    if faces:
        total = cons.overall(faces)
        print(json.dumps({"faces": faces, "overall": total}) if args.json else cons.format_table(faces, total))
    return EXIT_ERROR if errors else 0


def cmd_bench(args: argparse.Namespace, cfg: Config) -> int:
    from edge.commands.bench import format_table, run_bench, run_soak

    if args.soak is not None:
        report = run_soak(cfg, args.soak, group=args.group)
        print(json.dumps(report))
        return 0 if report["exceptions"] == 0 else EXIT_ERROR
    report = run_bench(cfg, args.threads, args.frames)
    print(json.dumps(report) if args.json else format_table(report))
    return 0


def cmd_doctor(args: argparse.Namespace, cfg: Config) -> int:
    from edge.commands.doctor import run_checks

    return run_checks(cfg)


def cmd_calibrate(args: argparse.Namespace, cfg: Config) -> int:
    from edge.commands.calibrate import NoCard, run

    if args.source:
        cfg.source.input = args.source
    try:
        run(cfg, args.reflectance, args.frames, args.settle, picture_path=Path(args.picture) if args.picture else None)
    except NoCard as e:
        print(f"error: calibrate: {e}", file=sys.stderr)
        return EXIT_ERROR
    return 0


def cmd_gallery(args: argparse.Namespace, cfg: Config) -> int:
    from edge.render.gallery import make_sheet

    make_sheet(Path(args.out), size=args.size)
    print(args.out)
    return 0


def cmd_config_example(args: argparse.Namespace, cfg: Config) -> int:
    print(config_mod.example_toml(), end="")
    return 0


def _global_options() -> argparse.ArgumentParser:
    """--config and --debug, accepted before and after the subcommand (the README and users write
    both). SUPPRESS as default: a subcommand that does not see the option must not reset the
    value given before it."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help="TOML config file (see config.example.toml)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="debug logging and tracebacks")
    return common


def parser() -> argparse.ArgumentParser:
    common = _global_options()
    ap = argparse.ArgumentParser(prog="emoticon-mirror", parents=[common],
                                 description="A live emoticon mirror of the people in front of the camera.")
    ap.add_argument("--version", action="version", version=f"emoticon-mirror {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    def command(name: str, **kw) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kw)

    run = command("run", help="the mirror: camera -> emoticons on screen")
    run.add_argument("--source", help="demo | picamera | /dev/videoN | N | video file | image | folder")
    run.add_argument("--display", choices=("auto", "fullscreen", "window", "headless"))
    run.add_argument("--frames", type=int, help="stop after N frames")
    run.add_argument("--out", help="headless: write frames here as PNG (at most display.save_max, default 3000)")
    run.add_argument("--loop", action="store_true", help="a video file starts again at its end (default: play once)")
    run.add_argument("--unpaced", action="store_true", help="do not pace files and the demo at their frame rate "
                     "(by default they play in real time, at most display.max_fps)")
    run.add_argument("--motion", choices=("auto", "on", "off"), help="live motion (overrides motion.mode)")
    run.add_argument("--snapshot-at", type=int, action="append", metavar="FRAME",
                     help="press the snapshot key at this frame (repeatable; needs snapshot.dir)")
    run.set_defaults(func=cmd_run)

    an = command("analyze", help="still photos -> faces and labels")
    an.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    an.add_argument("--json", action="store_true", help="one JSON line per image")
    an.add_argument("--emoticon-out", help="write one emoticon PNG per face here")
    an.add_argument("--emoticon-size", type=int, default=256, help=argparse.SUPPRESS)
    an.set_defaults(func=cmd_analyze)

    co = command("consistency", help="same face at other places, sizes, light, mirrored: same labels?")
    co.add_argument("paths", nargs="+", metavar="PATH", help="face photos (files or folders)")
    co.add_argument("--json", action="store_true", help="one JSON object: per face and overall")
    co.add_argument("--path", choices=("live", "analyze"), default="live",
                    help="the frame loop's one-frame path (default) or analyze's, with its retries")
    co.add_argument("--sizes", type=int, nargs="+", default=[60, 90, 130, 190, 300], help="face widths, px")
    co.add_argument("--positions", type=int, default=3, help="random places per size")
    co.add_argument("--seed", type=int, default=0)
    co.set_defaults(func=cmd_consistency)

    be = command("bench", help="per-stage latency and loop fps")
    be.add_argument("--json", action="store_true")
    be.add_argument("--threads", type=int, help="only this many interpreter threads (default: 1 and the config's)")
    be.add_argument("--frames", type=int, default=300, help=f"frames per measurement (>= {BENCH_MIN_FRAMES})")
    be.add_argument("--soak", type=int, metavar="N", help="instead: run the demo for N frames; report memory growth, "
                    "exceptions and fps drift")
    be.add_argument("--group", action="store_true", help="with --soak: four people at the booth (the demo's face "
                    "four times in a 2x2 grid, each moving), motion on all four, instead of the demo")
    be.set_defaults(func=cmd_bench)

    command("doctor", help="check runtime, models, camera and display").set_defaults(func=cmd_doctor)

    ca = command("calibrate", help="once at installation: a grey card in front of the camera fixes its exposure "
                 "and colour for the skin tone")
    ca.add_argument("--source", help="the camera: picamera | /dev/videoN | N (default: source.input)")
    ca.add_argument("--reflectance", type=float, default=0.18,
                    help="the card's reflectance (default 0.18: an 18%% grey card; about 0.9 for a white card)")
    ca.add_argument("--frames", type=int, default=10, help="frames the card is measured on (default 10)")
    ca.add_argument("--settle", type=float, help="seconds the camera's exposure and white balance settle first "
                    "(default: source.lock_light_s, else 3)")
    ca.add_argument("--picture", metavar="PNG", help="also write what the camera saw, the card found outlined in "
                    "green (the middle patch in yellow): to look at from a remote shell, card or not")
    ca.set_defaults(func=cmd_calibrate)

    st = command("stats", help="visitor counts per hour: a table, and a PNG chart")
    st.add_argument("--dir", help="folder of visitors.json (default: stats.dir, else $STATE_DIRECTORY or "
                    "~/.local/state/emoticon-mirror)")
    st.add_argument("--chart", default="visitors.png", help="write the chart here (default visitors.png; '' = none)")
    st.add_argument("--hours", type=int, default=72, help="at most the last N hours (default 72)")
    st.set_defaults(func=cmd_stats)

    ga = command("gallery", help="every emoticon variant in one labelled sheet")
    ga.add_argument("--out", required=True)
    ga.add_argument("--size", type=int, default=96, help=f"pixels per emoticon ({GALLERY_SIZES[0]}..{GALLERY_SIZES[1]})")
    ga.set_defaults(func=cmd_gallery)

    command("config-example", help="print the documented default config").set_defaults(func=cmd_config_example)
    return ap


GALLERY_SIZES = (16, 512)  # pixels per emoticon; a sheet of 480 at 512 px is already 13k pixels wide
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")  # what pygame writes; any other name got a Targa file
THREADS = (1, 8)  # interpreter threads, as the config's threads keys allow
CONSISTENCY_SIZES = (24, 480)  # face widths that fit a 640x480 frame with room around them
BENCH_MIN_FRAMES = 200  # a median over fewer frames of a shared machine is noise
REFLECTANCE = (0.03, 0.95)  # a card darker than 3% or whiter than 95% is not what the exhibitor holds
SOAK_MIN_FRAMES = 50  # a fifth warms up, a tenth is compared with the last tenth


def _check_numbers(args: argparse.Namespace) -> str | None:
    """Options checked before anything runs: a silently corrected value is a lie."""
    if args.command == "run" and args.frames is not None and args.frames < 1:
        return "--frames must be at least 1"
    if args.command == "run" and args.source is not None and not args.source.strip():
        return "--source is empty: give demo, picamera, /dev/videoN, a camera number, a file or a folder"
    if args.command == "bench" and args.threads is not None and not THREADS[0] <= args.threads <= THREADS[1]:
        return f"bench --threads must be {THREADS[0]}..{THREADS[1]}, not {args.threads}"
    if args.command == "consistency":
        bad = [n for n in args.sizes if not CONSISTENCY_SIZES[0] <= n <= CONSISTENCY_SIZES[1]]
        if bad:
            return (f"consistency --sizes must be face widths of {CONSISTENCY_SIZES[0]}..{CONSISTENCY_SIZES[1]} px, "
                    f"not {bad[0]}")
        if args.positions < 1:
            return f"consistency --positions must be at least 1, not {args.positions}"
    if args.command == "calibrate":
        if not REFLECTANCE[0] <= args.reflectance <= REFLECTANCE[1]:
            return f"calibrate --reflectance must be {REFLECTANCE[0]}..{REFLECTANCE[1]} (0.18 = 18% grey), not {args.reflectance}"
        if not 3 <= args.frames <= 300:
            return f"calibrate --frames must be 3..300, not {args.frames}"
        if args.picture and Path(args.picture).suffix.lower() not in (".png", ".jpg", ".jpeg"):
            return f"calibrate --picture {args.picture}: name a .png or .jpg file"
        if args.settle is not None and not 0 <= args.settle <= 600:
            return f"calibrate --settle must be 0..600 seconds, not {args.settle}"
    if args.command == "gallery" and Path(args.out).suffix.lower() not in PICTURE_SUFFIXES:
        return f"gallery --out {args.out}: name a picture file ({', '.join(PICTURE_SUFFIXES)})"
    if (args.command == "stats" and args.chart and Path(args.chart).suffix.lower() not in PICTURE_SUFFIXES):
        return f"stats --chart {args.chart}: name a picture file ({', '.join(PICTURE_SUFFIXES)})"
    if args.command == "bench":
        if args.soak is not None and args.soak < SOAK_MIN_FRAMES:
            return f"--soak must be at least {SOAK_MIN_FRAMES} frames"
        if args.group and args.soak is None:
            return "bench --group goes with --soak N (the bench table has its own four-face scene)"
        if args.soak is None and args.frames < BENCH_MIN_FRAMES:
            return f"bench --frames must be at least {BENCH_MIN_FRAMES} (a median over fewer is noise)"
    if args.command == "stats" and args.hours < 1:
        return "stats --hours must be at least 1"
    if args.command == "gallery" and not GALLERY_SIZES[0] <= args.size <= GALLERY_SIZES[1]:
        return f"gallery --size must be {GALLERY_SIZES[0]}..{GALLERY_SIZES[1]} pixels, not {args.size}"
    return None


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.config, args.debug = getattr(args, "config", None), getattr(args, "debug", False)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    problem = _check_numbers(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        cfg = config_mod.load(args.config)
        return args.func(args, cfg)
    except ConfigError as e:
        if args.debug:
            raise
        print(f"error: config: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except (ModelError, SourceError, DisplayError, PerceptionProcessError, OSError) as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
