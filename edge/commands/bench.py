"""emoticon-mirror bench: where the milliseconds go, at 1 thread and at the configured threads.

Speed targets live here, not in unit tests: a shared 2-core machine is too noisy for timed
asserts, but a median over hundreds of frames is a fair figure to report and compare.
"""
from __future__ import annotations

import logging
import platform
import resource
import statistics
import time
from dataclasses import replace

import numpy as np

from edge import build
from edge.app import STAGES
from edge.config import Config, DisplayConfig
from edge.runtime import backend_name
from edge.sources.demo import DemoSource
from edge.sources.memory import MemorySource

log = logging.getLogger(__name__)

BENCH_SCREEN = (1920, 1080)
WARMUP = 30
CAMERA_FPS = 30  # the loops are fed at a camera's rate, so per-face model schedules run as they do live


def _median_ms(fn, n: int = 200) -> float:
    """Median CPU ms of a call (this process, every thread): on a shared machine a call's wall time
    also counts its waits for a core."""
    times = []
    for _ in range(n):
        t = time.process_time()
        fn()
        times.append((time.process_time() - t) * 1000)
    return round(statistics.median(times), 3)


def one_face_frames(cfg: Config, n: int = 50) -> list[np.ndarray]:
    """640x480 frames from the demo's first segment: one face, moving."""
    demo = DemoSource(replace(cfg.source, width=640, height=480))
    return [demo.frame_at(i) for i in range(0, 150, max(1, 150 // n))]


def four_face_frames(frames: list[np.ndarray], detector) -> list[np.ndarray]:
    """640x480 frames with four faces: the demo's moving face cut out four times (at different
    moments) at its own size, in a 2x2 grid - four people standing at the booth."""
    import cv2

    side = 240
    heads = []
    for frame in frames:
        found = detector.detect(frame)
        if not found:
            continue
        x, y, w, h = found[0].box
        s = side / (1.9 * w)
        m = np.float32([[s, 0, side / 2 - (x + w / 2) * s], [0, s, side / 2 - (y + h / 2) * s]])
        heads.append(cv2.warpAffine(frame, m, (side, side), borderMode=cv2.BORDER_REFLECT101))
    out = []
    for i in range(len(heads)):
        canvas = np.full((480, 640, 3), 90, np.uint8)
        for k in range(4):
            y0, x0 = (k // 2) * 240, (k % 2) * 320 + 40
            canvas[y0:y0 + side, x0:x0 + side] = heads[(i + k * 7) % len(heads)]
        out.append(canvas)
    return out


def far_face_frames(frames: list[np.ndarray], detector, width: int = 50) -> list[np.ndarray]:
    """The one-face frames shrunk so the face is `width` px wide, on a 640x480 wall: a visitor about
    1.5 m from a Pi camera."""
    import cv2

    out = []
    for frame in frames:
        found = detector.detect(frame)
        s = width / found[0].box[2] if found else 0.3
        small = cv2.resize(frame, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        canvas = np.full((480, 640, 3), 90, np.uint8)
        h, w = small.shape[:2]
        canvas[200:200 + h, 300:300 + w] = small[:280, :340]
        out.append(canvas)
    return out


def coming_and_going_frames(cfg: Config) -> list[np.ndarray]:
    """The whole demo loop: one person, the other, both, nobody - people arriving and leaving."""
    demo = DemoSource(replace(cfg.source, width=640, height=480))
    return [demo.frame_at(i) for i in range(demo.loop_frames)]


# (label, frames, motion mode, other motion settings than the config's): every face gets motion where it is on
# the scenes also run flat out, with each display.pipeline
FLAT_OUT = ("1 face, motion on", "4 faces, motion on all")
SCENARIOS = (("1 face, motion off", "one", "off", {}), ("1 face, motion on", "one", "on", {}),
             ("1 face, motion on, mesh every other frame", "one", "on", {"full_rate_faces": 0}),
             ("4 faces, motion on all", "four", "on", {}),
             ("4 faces, motion on all, meshes every other frame", "four", "on", {"full_rate_faces": 0}),
             ("1 face 50 px wide, motion on", "far", "on", {}),
             ("people coming and going, motion on", "coming", "on", {}))


def _loop(cfg: Config, images: list[np.ndarray], frames: int, threads: int, paced: bool = True) -> dict:
    from edge.display import Display
    from edge.render import Renderer

    display = Display(DisplayConfig(mode="headless", width=BENCH_SCREEN[0], height=BENCH_SCREEN[1]), "headless")
    mirror = None
    try:
        renderer = Renderer(display.size)
        mirror = build.mirror(cfg, lambda: MemorySource(images, fps=CAMERA_FPS if paced else None), renderer,
                              display, pace=paced, threads=threads)
        mirror.run(WARMUP)
        mirror.stats = type(mirror.stats)()
        builds = renderer.cache.builds
        t0 = time.monotonic()
        stats = mirror.run(frames)
        wall = time.monotonic() - t0
        perceiving_mb = rss_mb(getattr(mirror.perceiver, "pid", None))
    finally:
        if mirror is not None:
            mirror.close()
        display.close()
    detected = stats.detected / max(1, stats.frames)
    return {"stage_ms": stats.means(), "stage_ms_median": stats.medians(), "latency_ms": stats.latency(),
            "cpu_ms": round(statistics.fmean(stats.cpu_ms), 3),  # a mean: the perceiving process is read in 10 ms ticks
            "spare_time_render_ms": round(statistics.fmean(stats.warm_ms), 3),
            "loop_fps": round(frames / wall, 1), "frames": frames, "frames_with_face": stats.frames_with_face,
            "detector_share": round(detected, 3), "variants_built": renderer.cache.builds - builds,
            "perceiving_rss_mb": round(perceiving_mb, 1)}


def flat_out(cfg: Config, images: list[np.ndarray], frames: int, threads: int) -> dict:
    """The loop unpaced, its halves in sequence, overlapped on a thread and in a process of its own
    (display.pipeline): the frames a second a device slower than its camera would gain, and the
    latency it would pay for them."""
    runs = {}
    for pipeline in ("off", "thread", "process"):
        r = _loop(replace(cfg, display=replace(cfg.display, pipeline=pipeline)), images, frames, threads, paced=False)
        runs[pipeline] = {k: r[k] for k in ("loop_fps", "latency_ms", "cpu_ms")}
    return runs


def bench_threads(cfg: Config, threads: int, frames: int) -> dict:
    from edge.perceive.motion import measure

    images = one_face_frames(cfg)
    detector = build.detector(cfg, threads)
    classifiers = build.classifiers(cfg, threads)
    face = detector.detect(images[0])[0]
    per_model = {}
    for c in classifiers.classifiers:
        crop = c.crop(images[0], face)
        views = c.views
        per_model[c.name] = {}
        for n in ((1, 2, 4) if c.name == "expression" else (1,)):
            c.views = n
            per_model[c.name][f"ms_{n}_views"] = _median_ms(lambda: c.probabilities(crop))
        c.views = views
        per_model[c.name]["views_used"] = views
    if classifiers.skin is not None:
        classifiers.begin_frame(images[0], [face])
        per_model["skin_tone"] = {"ms": _median_ms(lambda: classifiers.skin.read(classifiers.skin.cut(images[0], face)))}
    mesh = build.mesh(replace(cfg, motion=replace(cfg.motion, mode="auto")), threads)
    landmark_ms = {}
    if mesh is not None:
        points = mesh(images[0], face).points
        landmark_ms = {"mesh_ms": _median_ms(lambda: mesh(images[0], face)),
                       "signals_ms": _median_ms(lambda: measure(points, images[0]))}
    scenes = {"one": images, "four": four_face_frames(images, detector), "far": far_face_frames(images, detector),
              "coming": coming_and_going_frames(cfg)}
    loops, pipelined = {}, {}
    for label, scene, mode, motion in SCENARIOS:
        if mode == "on" and mesh is None:
            continue
        # each scene at the mesh rate it names: the loop's own switch to turns (motion.turns_when_busy)
        # would follow this machine's load
        run_cfg = replace(cfg, motion=replace(cfg.motion, mode=mode, max_faces=4, turns_when_busy=False, **motion))
        loops[label] = _loop(run_cfg, scenes[scene], frames, threads)
        if label in FLAT_OUT:
            pipelined[label] = flat_out(run_cfg, scenes[scene], frames, threads)
    return {
        "threads": threads,
        "detect_ms": _median_ms(lambda: detector.detect(images[0])),
        "classifier_ms_per_face": per_model,
        "landmarks_per_face": landmark_ms,
        "loops": loops,
        "pipeline": pipelined,
    }


def run_bench(cfg: Config, threads: int | None, frames: int) -> dict:
    settings = [threads] if threads else sorted({1, cfg.detector.threads})
    runs = [bench_threads(cfg, t, frames) for t in settings]
    report = {
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}, python {platform.python_version()}",
        "interpreter": backend_name(),
        "frame": [640, 480],
        "screen": list(BENCH_SCREEN),
        "models": sorted(runs[0]["classifier_ms_per_face"]) or ["none (no trained models)"],
        "runs": runs,
    }
    try:
        from edge.render.speed import bench_render

        report["render"] = bench_render(BENCH_SCREEN, frames)
    except ImportError:
        pass
    report["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    # a perceiving process (display.pipeline "process"), at the end of its loop: the largest
    report["perceiving_rss_mb"] = max((loop["perceiving_rss_mb"] for r in runs for loop in r["loops"].values()),
                                      default=0.0)
    return report


def format_table(report: dict) -> str:
    head = ["threads", "scene", *STAGES, "total", "CPU", "of which spare-time drawing", "detector ran",
            "capture->display", "loop fps"]
    lines = [f"bench on {report['machine']} ({report['interpreter']}), frame 640x480, headless screen "
             f"{report['screen'][0]}x{report['screen'][1]}, models: {', '.join(report['models'])}",
             f"frames fed at {CAMERA_FPS} fps; mean wall ms per stage and frame (models run on schedules, so a median "
             "frame hides them), mean CPU ms a frame (every thread of the mirror and of its perceiving process; unlike wall time it does not "
             "count waiting for a core on a shared machine) and the part of it the renderer spent drawing variants "
             "nobody waited for, in time the frame had to spare (a slower device skips it), median latency:",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report["runs"]:
        for label, loop in r["loops"].items():
            cells = [str(r["threads"]), label] + [f"{loop['stage_ms'][s]:.2f}" for s in STAGES] + \
                    [f"{sum(loop['stage_ms'][s] for s in STAGES if s != 'capture'):.2f}", f"{loop['cpu_ms']:.2f}",
                     f"{loop['spare_time_render_ms']:.2f}",
                     f"{100 * loop['detector_share']:.0f}%", f"{loop['latency_ms']:.2f}", f"{loop['loop_fps']:.0f}"]
            lines.append("| " + " | ".join(cells) + " |")
    for r in report["runs"]:
        lines.append(f"CPU ms, medians: detector alone at {r['threads']} thread(s): {r['detect_ms']:.2f} ms")
        for name, m in r["classifier_ms_per_face"].items():
            if "views_used" in m:
                times = ", ".join(f"{k[3]} view(s) {v:.2f} ms" for k, v in m.items() if k.startswith("ms_"))
                lines.append(f"{name} at {r['threads']} thread(s), per face: {times} (the loop uses {m['views_used']})")
            else:
                lines.append(f"{name} at {r['threads']} thread(s): {m['ms']:.2f} ms per face")
        if r["landmarks_per_face"]:
            lm = r["landmarks_per_face"]
            lines.append(f"landmarks at {r['threads']} thread(s), per face: mesh {lm['mesh_ms']:.2f} ms, "
                         f"signals {lm['signals_ms']:.2f} ms")
        for label, ways in r["pipeline"].items():
            lines.append(f"flat out at {r['threads']} thread(s), {label}, by display.pipeline: " + "; ".join(
                f"{way} {w['loop_fps']:.1f} fps, capture->display {w['latency_ms']:.1f} ms, CPU {w['cpu_ms']:.1f} ms a frame"
                for way, w in ways.items()))
        built = ", ".join(f"{k}: {v['variants_built']}" for k, v in r["loops"].items())
        lines.append(f"emoticon variants drawn during the {r['threads']}-thread loops: {built}")
    if "render" in report:
        lines.append("render " + ", ".join(f"{k} {v}" for k, v in report["render"].items()))
    lines.append(f"max RSS {report['max_rss_mb']} MB (the bench's own process); a perceiving process at the end of "
                 f"its loop: {report.get('perceiving_rss_mb', 0)} MB")
    return "\n".join(lines)


def rss_mb(pid: int | str | None = "self") -> float:
    """Resident memory now (not the peak): growth over a long run is what reveals a leak. pid None (no
    perceiving process): 0."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if pid == "self" else 0.0


def mirror_rss_mb(mirror) -> float:
    """The mirror's resident memory, its perceiving process's included (display.pipeline)."""
    return rss_mb() + rss_mb(getattr(mirror.perceiver, "pid", None))


def run_soak(cfg: Config, frames: int, warmup: int = 500, group: bool = False) -> dict:
    """The demo (or, `group`, four moving faces with motion on all), headless and unpaced, for many
    frames: memory growth, exceptions, fps drift. The memory baseline is taken after the warm-up (at
    most a fifth of a short soak), once the models and caches are in: before it, growth would be
    start-up, not a leak."""
    warmup = min(warmup, frames // 5)
    from edge.display import Display
    from edge.render import Renderer
    from edge.sources import open_source

    display = Display(DisplayConfig(mode="headless", width=1280, height=720), "headless")
    exceptions = 0
    times: list[float] = []
    try:
        renderer = Renderer(display.size)
        if group:
            cfg = replace(cfg, motion=replace(cfg.motion, mode="on", max_faces=4))
            scene = four_face_frames(one_face_frames(cfg, 150), build.detector(cfg, 1))

            def source():
                return MemorySource(scene, fps=CAMERA_FPS, camera_clock=True)
        else:
            def source():
                return open_source("demo", cfg.source)
        mirror = build.mirror(cfg, source, renderer, display, pace=False)
        rss_warm = cache_warm = 0.0
        for i in range(frames):
            if i == warmup:
                rss_warm, cache_warm = mirror_rss_mb(mirror), renderer.cache.bytes / 2**20
            try:
                mirror.step()
            except Exception:  # counted and logged, not fatal: the soak reports them
                exceptions += 1
                log.exception("soak frame %d failed", i)
            times.append(time.monotonic())
        rss_end = mirror_rss_mb(mirror)
        mirror.close()
    finally:
        display.close()
    tenth = max(2, frames // 10)
    first = (tenth - 1) / (times[tenth - 1] - times[0])
    last = (tenth - 1) / (times[-1] - times[-tenth])
    return {"frames": frames, "scene": "four faces, motion on all" if group else "demo", "rss_after_warmup_mb": round(rss_warm, 1), "rss_end_mb": round(rss_end, 1),
            "rss_growth_mb": round(rss_end - rss_warm, 1),
            # the emoticon cache is bounded (CACHE_BYTES); its growth is expected, not a leak
            "emoticon_cache_mb_after_warmup": round(cache_warm, 1), "emoticon_cache_mb_end": round(renderer.cache.bytes / 2**20, 1),
            "exceptions": exceptions,
            "fps_first_10pct": round(first, 1), "fps_last_10pct": round(last, 1),
            "fps_change_pct": round(100 * (last - first) / first, 1)}
