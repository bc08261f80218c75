"""Renderer speed, for the app's `bench` command.

Two numbers matter on a kiosk: the steady frame rate once variants are cached (what people see
almost all the time) and the cost of one new variant (a stall when someone's expression changes to
one not drawn yet at that size). The scene is a realistic worst case: two large faces, the overlay
on, blinks and idle motion running.
"""
from __future__ import annotations

import logging
import statistics
import time

import pygame

from edge.render import layout
from edge.render.emoticon import Style, build_emoticon
from edge.render.params import EXPRESSION_PARAMS
from edge.render.renderer import Renderer
from edge.state import TONES, EmoticonState, FaceView, Scene

log = logging.getLogger(__name__)


def bench_render(size: tuple[int, int] = (1920, 1080), frames: int = 300) -> dict:
    """Render `frames` frames of a 2-face scene at `size` and time new variant builds.

    Returns {"fps_cached", "frame_ms_median", "frame_ms_max", "new_variant_ms" (median),
    "new_variant_ms_max", "variant_px", "size"}. "Present" is a blit of the frame onto the display
    surface (and a flip) when a display is open, else onto an offscreen screen-sized surface, so the
    figure includes the copy a real present costs.
    """
    size = (int(size[0]), int(size[1]))
    frames = max(10, int(frames))
    renderer = Renderer(size)
    scene = Scene(faces=[FaceView(1, EmoticonState("happy", "medium"), 0.3),
                         FaceView(2, EmoticonState("surprise", "light", "glasses", "round"), 0.7)],
                  overlay=["60.0 fps  faces 2  dropped 0", "render     2.00 ms"])
    display = pygame.display.get_surface() if pygame.display.get_init() else None
    target = display if display is not None and display.get_size() == size else pygame.Surface(size)

    def present(surf: pygame.Surface) -> None:
        target.blit(surf, (0, 0))
        if target is display:
            pygame.display.flip()

    t = 1000.0
    for i in range(90):  # warm: first variants, blink frames (queued, built one per frame)
        present(renderer.render(scene, t + i / 60))
    for i in range(30):  # force a blink cycle's variants into the cache
        present(renderer.render(scene, t + 5 + i / 60))
    times = []
    start = time.perf_counter()
    for i in range(frames):
        t0 = time.perf_counter()
        present(renderer.render(scene, t + 10 + i / 60))
        times.append(time.perf_counter() - t0)
    wall = time.perf_counter() - start

    # new variants at the largest size this screen uses (one face); build_emoticon bypasses the
    # variant cache, so every one is drawn from scratch
    d = int(layout.face_slots(1, *size)[0].d)
    build_emoticon(EXPRESSION_PARAMS["neutral"], Style(), d)  # the per-size shading, made once per size
    build_ms = []
    for i, params in enumerate(EXPRESSION_PARAMS.values()):
        for style in (Style(TONES[i % 6]), Style(TONES[(i + 2) % 6], "glasses", "rectangular"),
                      Style(TONES[(i + 4) % 6], "sunglasses", mask=True)):
            t0 = time.perf_counter()
            build_emoticon(params, style, d)
            build_ms.append((time.perf_counter() - t0) * 1000)
    result = {
        "size": f"{size[0]}x{size[1]}",
        "fps_cached": round(frames / wall, 1),
        "frame_ms_median": round(statistics.median(times) * 1000, 2),
        "frame_ms_max": round(max(times) * 1000, 2),
        "new_variant_ms": round(statistics.median(build_ms), 2),
        "new_variant_ms_max": round(max(build_ms), 2),
        "variant_px": d,
    }
    log.info("render bench: %s", result)
    return result


if __name__ == "__main__":  # python -m edge.render.speed
    import os

    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    print(bench_render())
