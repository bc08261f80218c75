"""The booth in the frame loop: the snapshot key and button, the 3-2-1, the card, the visitor counts.

The loop hands over each frame and scene (`observe`) and each finished picture (`decorate`); the
booth turns presses into a countdown, the countdown into a card (edge/booth/card.py) saved and
printed off the loop (edge/booth/cardstore.py) and shared with its stickers (edge/booth/takehome.py),
and the faces on screen into counts (edge/booth/visitors.py). Everything here is off by default:
no snapshot.dir, no snapshots; stats.enabled false, no counts; share.enabled false, nothing listens.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
import pygame

from edge.booth.button import open_button
from edge.booth.cardstore import CardStore
from edge.config import Config
from edge.booth.printer import Printer
from edge.booth.overlay import BoothOverlay
from edge.booth.card import compose_card
from edge.render.look import Look
from edge.render.text import TextCache
from edge.booth.snapshot import Countdown
from edge.booth.takehome import TakeHome, build_takehome
from edge.sources import Frame
from edge.state import Scene
from edge.atomic import make_folder
from edge.booth.visitors import VisitorStats, stats_path

log = logging.getLogger(__name__)

NOTICE_S = 6.0  # how long a line of news stays on screen
FLASH_S = 0.35
GAP_S = 2.0  # frames further apart than this (a camera reconnect) cancel a countdown


class Booth:
    def __init__(self, cfg: Config, look: Look, live: bool, store: CardStore | None = None,
                 stats: VisitorStats | None = None, pin_factory=None, wall=time.time, share: TakeHome | None = None):
        self.cfg = cfg
        self.look = look
        self.live = live
        self.drew = False  # the last decorate() drew on the frame it was given
        self.store = store
        self.stats = stats
        self.share = share
        self.wall = wall
        self.countdown = Countdown(cfg.snapshot.countdown_s)
        self.overlay = BoothOverlay(TextCache(font_path=look.font_path))
        self.cards = 0  # cards taken in this run
        self._presses = 0
        self._lock = threading.Lock()
        self._t = 0.0
        self._frozen: pygame.Surface | None = None
        self._notice: tuple[str, bool, float] | None = None
        self._seen_version = 0
        self._attract = False  # the last scene had nobody in it (the attract screen)
        self.button = open_button(cfg.snapshot.button_pin, self.press, pin_factory) if store is not None else None

    def press(self) -> None:
        """A snapshot key or button press; safe from any thread (gpiozero calls it on its own)."""
        with self._lock:
            self._presses += 1

    def frame_time(self, frame: Frame) -> float:
        """Capture time for a camera; frame index / fps for the demo and files, which a headless run
        reads much faster than they play."""
        return frame.t_capture if self.live else frame.index / self.cfg.source.fps

    def observe(self, frame: Frame, scene: Scene, image_bgr: np.ndarray | None) -> None:
        t = self.frame_time(frame)
        if t - self._t > GAP_S and self.countdown.state == "counting":
            self.countdown.cancel()  # the camera was lost meanwhile: do not fire on its first new frame
        self._t = t
        if self.stats is not None:
            self.stats.observe([(f.track_id, f.state.expression) for f in scene.faces], t)
        if self.share is not None and not scene.message:
            self.share.record(t, scene.faces)
        self._attract = not scene.faces and not scene.message
        with self._lock:
            presses, self._presses = self._presses, 0
        if presses and self.store is not None and not scene.message:
            self.countdown.press(t)
        if self.countdown.tick(t):
            self._capture(scene, image_bgr, t)
        if self.countdown.state != "frozen":
            self._frozen = None

    def _capture(self, scene: Scene, image_bgr: np.ndarray | None, t: float) -> None:
        if not scene.faces:
            self.countdown.cancel()
            self._notice = ("Nobody in front of the mirror - no card", False, t)
            return
        s = self.cfg.snapshot
        number = self.store.reserve()
        photo = image_bgr[:, :, ::-1] if s.include_photo and image_bgr is not None else None
        card = compose_card(scene.faces, (s.card_width, s.card_height), self.look, number, s.title,
                            when=self.wall(), photo_rgb=photo)
        card_rgb = pygame.surfarray.array3d(card).transpose(1, 0, 2).copy()
        self.store.submit(number, card_rgb)
        if self.share is not None:
            self.share.snapshot(number, card_rgb, scene.faces, t)  # the store does not write into card_rgb
        self.cards += 1
        if self.stats is not None:
            self.stats.snapshot_taken()
        self._notice = (f"Saving No. {number}...", True, t)
        log.info("snapshot %d taken (%d faces)", number, len(scene.faces))

    def decorate(self, screen: pygame.Surface) -> pygame.Surface:
        """The finished frame with the countdown, the frozen picture or the latest news on it."""
        t = self._t
        if self.store is not None:
            version, status = self.store.status()
            if status is not None and version != self._seen_version:
                self._seen_version = version
                self._notice = (status.line, status.ok, t)
        if self.countdown.state == "counting":
            self.overlay.countdown(screen, self.countdown.number(t) or 1, self.countdown.phase(t))
        elif self.countdown.state == "frozen":
            if self._frozen is None:
                self._frozen = screen.copy()  # the moment of the picture stays on screen
            screen = self._frozen.copy()
            self.overlay.flash(screen, 1.0 - (t - self.countdown.since) / FLASH_S)
        shared = self.share is not None and self.share.decorate(
            screen, self.overlay, t, self.countdown.state == "counting", self._attract)
        notice = self._notice is not None and t - self._notice[2] < NOTICE_S
        if notice:
            self.overlay.banner(screen, self._notice[0], self._notice[1])
        self.drew = notice or shared or self.countdown.state in ("counting", "frozen")
        return screen

    def close(self) -> None:
        if self.button is not None:
            self.button.close()
        if self.store is not None:
            self.store.close()
        if self.stats is not None:
            self.stats.close()
        if self.share is not None:
            self.share.close()


def build_booth(cfg: Config, look: Look, live: bool, pin_factory=None) -> Booth | None:
    """The booth the config asks for, or None when snapshots and counts are both off."""
    store = None
    s = cfg.snapshot
    if s.dir:
        folder = Path(s.dir).expanduser().absolute()  # gpiozero's lgpio may chdir to LG_WD later
        try:
            make_folder(folder)
        except OSError as e:  # a USB stick not plugged in yet: cards wait in memory for it
            log.warning("snapshot folder %s: %s; cards are kept until it can be written", folder, e.strerror or e)
        printer = Printer(s.print, s.print_media, s.print_timeout_s) if s.print else None
        store = CardStore(folder, printer)
        log.info("snapshots on: cards to %s%s%s", folder, f", printed on {s.print}" if printer else "",
                 ", with the camera picture" if s.include_photo else "")
    stats = None
    if cfg.stats.enabled:
        stats = VisitorStats(stats_path(cfg.stats.dir), cfg.stats.min_visit_s, cfg.stats.flush_s,
                             cfg.stats.keep_days, gone_after_s=cfg.smooth.track_timeout_s)
        log.info("visitor counts on: %s", stats.path)
    share = build_takehome(cfg.share, look, s.title) if store is not None else None
    if store is None and stats is None:
        return None
    return Booth(cfg, look, live, store, stats, pin_factory, share=share)
