"""Putting the rendered picture on a screen: KMS/DRM full screen, a desktop window, or headless.

The renderer draws at the display's logical size (after rotation); only this module knows about
pygame's display, SDL drivers, rotation, keys and where headless frames go.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from edge.atomic import make_folder, save_picture
from edge.config import DisplayConfig

log = logging.getLogger(__name__)

DEFAULT_SIZE = (1280, 720)


class DisplayError(Exception):
    """No usable display in the requested mode; the message says what to do instead."""


def pick_mode(requested: str) -> str:
    """auto: a window on a desktop, KMS/DRM on a console that has a GPU, headless otherwise."""
    if requested != "auto":
        return requested
    if os.environ.get("WAYLAND_DISPLAY") or os.environ.get("DISPLAY"):
        return "window"
    if os.environ.get("SDL_VIDEODRIVER") == "kmsdrm" or any(Path("/dev/dri").glob("card*")):
        return "fullscreen"
    return "headless"


def missing_screen(mode: str) -> str | None:
    """Why `mode` cannot open here, known before SDL is asked; None when it may. One place for
    `run` and `doctor`. A window needs a desktop: without one SDL quietly picks its offscreen
    driver and shows nothing (unless SDL_VIDEODRIVER names a driver on purpose, as tests do)."""
    desktop = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if mode == "window" and not desktop and os.environ.get("SDL_VIDEODRIVER", "") in ("", "x11", "wayland"):
        return "no desktop to open a window on ($DISPLAY and $WAYLAND_DISPLAY are not set)"
    if mode == "fullscreen" and not desktop and os.environ.get("SDL_VIDEODRIVER", "kmsdrm") == "kmsdrm" \
            and not any(Path("/dev/dri").glob("card*")):
        return "no KMS/DRM screen device (/dev/dri/card*)"
    return None


def open_display(cfg: DisplayConfig, out_dir: str | None = None, fallback: bool = True) -> "Display":
    """The requested display; with auto and `fallback`, a console whose KMS screen will not open
    falls back to headless (a Pi booted without a monitor still runs, and says so). The service
    passes fallback=False: it waits for the screen instead (edge.waiting)."""
    mode = pick_mode(cfg.mode)
    try:
        return Display(cfg, mode, out_dir)
    except DisplayError as e:
        if cfg.mode != "auto" or mode == "headless" or not fallback:
            raise
        log.warning("%s; running headless", e)
        return Display(cfg, "headless", out_dir)


class Display:
    def __init__(self, cfg: DisplayConfig, mode: str, out_dir: str | None = None):
        self.mode = mode
        # Only a real panel is mounted sideways: its picture is drawn upright and turned into its
        # framebuffer. A window or headless frames are seen upright: with rotation 90/270 they
        # are simply portrait, drawn as such (the same layout a portrait kiosk shows).
        self.rotation = cfg.rotation if mode == "fullscreen" else 0
        self.out_dir = Path(out_dir or cfg.out_dir) if (out_dir or cfg.out_dir) else None
        self.save_every = cfg.save_every
        self.save_max = cfg.save_max
        self.saved = 0
        self.last_save_ms = 0.0  # time the last show() spent writing a PNG: not the mirror's own work
        self._presented = 0
        missing = missing_screen(mode)
        if missing:
            raise DisplayError(f"display mode {mode!r} is not available here: {missing}; "
                               f"use {'--display fullscreen on a console, or ' if mode == 'window' else ''}"
                               "--display headless")
        if self.mode == "headless":
            os.environ["SDL_VIDEODRIVER"] = "dummy"
            if self.out_dir is None:  # a run that shows and keeps nothing should say so, not run silently
                log.warning("headless with no --out (display.out_dir): nothing is shown or saved; "
                            "the run ends with its JSON line")
        elif self.mode == "window" and bool(os.environ.get("DISPLAY")) != bool(os.environ.get("WAYLAND_DISPLAY")):
            # name the one desktop there is: otherwise SDL tries the others, prints its own
            # 'XDG_RUNTIME_DIR' line and settles on its offscreen driver
            os.environ.setdefault("SDL_VIDEODRIVER", "x11" if os.environ.get("DISPLAY") else "wayland")
        elif self.mode == "fullscreen" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            os.environ.setdefault("SDL_VIDEODRIVER", "kmsdrm")
        import pygame  # after SDL_VIDEODRIVER is set: SDL reads it at init

        self._pg = pygame
        try:
            pygame.display.init()
            if self.mode == "fullscreen":
                screen = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
                pygame.mouse.set_visible(False)
            else:
                size = (cfg.width or DEFAULT_SIZE[0], cfg.height or DEFAULT_SIZE[1])
                if cfg.rotation in (90, 270):
                    size = (size[1], size[0])
                screen = pygame.display.set_mode(size, 0)
                pygame.display.set_caption("Emoticon Mirror")
        except pygame.error as e:
            pygame.display.quit()
            raise DisplayError(
                f"display mode {self.mode!r} is not available here ({e}); try --display headless"
            ) from None
        driver = pygame.display.get_driver()
        if self.mode == "window" and driver in ("offscreen", "dummy") and os.environ.get("SDL_VIDEODRIVER") != driver:
            pygame.display.quit()  # SDL fell back to drawing nowhere
            raise DisplayError(f"display mode 'window' is not available here: SDL chose its {driver!r} "
                               "driver, no window would show; try --display headless")
        self.screen = screen
        w, h = screen.get_size()
        self.size = (h, w) if self.rotation in (90, 270) else (w, h)  # what the renderer draws
        if self.out_dir:
            make_folder(self.out_dir)
        log.info("display %s via %s, %dx%d, rotation %d", self.mode, driver, w, h, cfg.rotation)

    def show(self, surface, rects: list | None = None) -> list[str]:
        """Present one frame; returns the user's commands since the last one ('quit', 'toggle_fps', 'snapshot').
        rects: the only parts that differ from the last frame (the renderer's `changed`); None: all of it."""
        pg = self._pg
        if self.rotation:
            surface, rects = pg.transform.rotate(surface, -self.rotation), None
        if rects is None:
            self.screen.blit(surface, (0, 0))
            pg.display.flip()
        else:
            for r in rects:
                self.screen.blit(surface, r, r)
            pg.display.update(rects)
        self.last_save_ms = 0.0
        if self.out_dir and self._presented % self.save_every == 0 and self.saved < self.save_max:
            t = time.perf_counter()
            try:
                save_picture(self.screen, self.out_dir / f"frame_{self._presented:06d}.png", sync=False)
                self.saved += 1
            except OSError as e:  # a full disk: the mirror goes on, the frames stop, nothing half-written
                log.warning("%s: writing no more frames", e)
                self.out_dir = None
            self.last_save_ms = (time.perf_counter() - t) * 1000
            if self.out_dir and self.saved == self.save_max:
                log.warning("wrote %d frames to %s: display.save_max reached, writing no more", self.saved, self.out_dir)
        self._presented += 1
        commands = []
        for event in pg.event.get():
            if event.type == pg.QUIT:
                commands.append("quit")
            elif event.type == pg.KEYDOWN:
                if event.key in (pg.K_ESCAPE, pg.K_q):
                    commands.append("quit")
                elif event.key == pg.K_f:
                    commands.append("toggle_fps")
                elif event.key in (pg.K_SPACE, pg.K_s):
                    commands.append("snapshot")
        return commands

    def close(self) -> None:
        self._pg.display.quit()
