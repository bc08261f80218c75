"""Take it home: at a snapshot, a page on the share server with the card and the moving stickers,
and its QR code on screen beside "Saved"; on the attract screen, the booth's Wi-Fi as a QR code.

The loop's part is small and quick: record each frame's faces, and at the shutter reserve a token
(the QR code is on screen from that frame), make the stickers' backdrops and hand the rest to one
worker thread, which has the stickers drawn and encoded in a process of its own (spawned at start,
as the perceiving process is), encodes the card's PNG, writes them to the shelf and publishes the
page. A sticker that fails to draw (or a sticker process that dies) leaves the card's page; a full
disk leaves no page; either is one line in the log, and the card in snapshot.dir and the loop are
untouched.
"""
from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import queue
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np
import pygame

from edge.booth import sticker
from edge.booth.cardstore import encode_png
from edge.booth.overlay import BoothOverlay
from edge.booth.qr import qr_surface, wifi_payload
from edge.booth.share import ShareServer
from edge.booth.shelf import Shelf, ShareError, share_root
from edge.config import ShareConfig
from edge.render.look import Look
from edge.render.text import TextCache
from edge.state import FaceView

log = logging.getLogger(__name__)

SEGNO_FIX = "./setup.sh installs it; on a Pi: sudo apt install python3-segno"
QUEUE = 2  # snapshots waiting for their stickers; one more is not shared (one line in the log)
STICKERS_S = 300.0  # a sticker process that takes longer than this for one snapshot is given up on


@dataclass
class Job:
    token: str
    card_rgb: np.ndarray
    stickers: sticker.StickerJob


class TakeHome:
    def __init__(self, cfg: ShareConfig, look: Look, title: str, server: ShareServer):
        self.cfg = cfg
        self.look = look
        self.title = title
        self.server = server
        self.shelf: Shelf = server.shelf
        self.recorder = sticker.SceneRecorder()
        self.wifi = wifi_payload(cfg.wifi_ssid, cfg.wifi_password) if cfg.wifi_ssid else ""
        self._text = TextCache(font_path=look.font_path)
        self._shown: tuple[str, float] | None = None  # (token, frame time of the shutter)
        self._codes: dict[tuple[str, int], pygame.Surface] = {}
        self._jobs: queue.Queue[Job | None] = queue.Queue(QUEUE)
        self._pool = self._start_pool()
        self._thread = threading.Thread(target=self._run, name="stickers", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------- the loop's part

    def record(self, t: float, faces: list[FaceView]) -> None:
        self.recorder.record(t, faces)

    def snapshot(self, number: int, card_rgb: np.ndarray, faces: list[FaceView], t: float) -> str:
        """Share snapshot `number` (card_rgb: a copy the caller no longer touches); returns its address."""
        token = self.shelf.reserve(number, self.title)
        url = self.server.url(token)
        person = sticker.backdrop(sticker.PERSON_SIZE, self.look, self.title, self._text)
        group = sticker.backdrop(sticker.GROUP_SIZE, self.look, self.title, self._text) if len(faces) > 1 else None
        job = Job(token, card_rgb, sticker.StickerJob(number, list(faces), self.recorder.tracks(
            [f.track_id for f in faces]), t, person, group))
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            self.shelf.drop(token)
            log.warning("snapshot %d not shared: %d snapshots still being made", number, QUEUE)
            return ""
        self._shown = (token, t)
        log.info("snapshot %d shared at %s (for %d min)", number, url, self.cfg.expire_min)
        return url

    def decorate(self, screen: pygame.Surface, overlay: BoothOverlay, t: float, counting: bool,
                 attract: bool) -> bool:
        """The snapshot's QR code (and the Wi-Fi's) while it is fresh, or the Wi-Fi's on the attract
        screen; True when something was drawn."""
        short = min(screen.get_size())
        if self._shown is not None and not counting:
            token, since = self._shown
            if t - since < self.cfg.qr_s and self.shelf.state(token) != "gone":
                codes = [(self._code(self.wifi, int(short * 0.26)), f"1. Wi-Fi: {self.cfg.wifi_ssid}")] if self.wifi else []
                codes.append((self._code(self.server.url(token), int(short * 0.34)),
                              "2. Your sticker" if self.wifi else "Scan: your sticker"))
                overlay.qr_panel(screen, codes, "middle")
                return True
            self._shown = None
        if attract and self.wifi:
            overlay.qr_panel(screen, [(self._code(self.wifi, int(short * 0.26)), f"Wi-Fi: {self.cfg.wifi_ssid}")], "corner")
            return True
        return False

    def _code(self, text: str, px: int) -> pygame.Surface:
        key = (text, px)
        if key not in self._codes:
            if len(self._codes) > 8:
                self._codes.clear()
            self._codes[key] = qr_surface(text, px)
        return self._codes[key]

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(30.0)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.server.close()  # and everything shared is deleted

    def wait_idle(self) -> None:
        """Until every snapshot handed over is on the shelf (tests and exit)."""
        self._jobs.join()

    # ---------------------------------------------------------------------------------------- worker

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                self._make(job)
            except Exception as e:  # the sharing worker must never take the mirror down
                self.shelf.drop(job.token)
                log.error("snapshot %d not shared: %s", job.stickers.number, e)
            finally:
                self._jobs.task_done()

    @staticmethod
    def _start_pool() -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        pool.submit(sticker.warm_up)  # started now, not at the first snapshot
        return pool

    def _draw(self, job: sticker.StickerJob) -> tuple[list[tuple[str, bytes, tuple[int, int]]], list[str]]:
        """The stickers, from the sticker process; a process that died is started again for the next."""
        try:
            return self._pool.submit(sticker.make_stickers, job).result(timeout=STICKERS_S)
        except BrokenProcessPool:
            self._pool = self._start_pool()
            return [], ["the sticker process ended"]
        except (TimeoutError, pygame.error, ValueError, OSError) as e:
            return [], [str(e) or type(e).__name__]

    def _make(self, job: Job) -> None:
        t0, number = time.monotonic(), job.stickers.number
        made, failed = self._draw(job.stickers)
        if failed:
            log.warning("stickers of No. %d not drawn (%s); the card is shared", number, "; ".join(failed))
        try:
            for name, data, size in made:
                self.shelf.put(job.token, f"sticker-{number:04d}-{name}.gif", data, size)
            h, w = job.card_rgb.shape[:2]
            self.shelf.put(job.token, f"card-{number:04d}.png", encode_png(job.card_rgb), (w, h))
        except OSError as e:
            self.shelf.drop(job.token)
            log.error("snapshot %d not shared: %s: %s", number, self.shelf.root, e.strerror or e)
            return
        self.shelf.publish(job.token)
        log.info("page of No. %d ready in %.1f s: %d sticker(s), %s KB", number, time.monotonic() - t0,
                 len(made), "+".join(str(round(len(d) / 1000)) for _, d, _ in made) or "0")


def build_takehome(cfg: ShareConfig, look: Look, title: str) -> TakeHome | None:
    """Sharing as the config asks, or None (off, or it cannot start: one line in the log; the
    mirror goes on without it)."""
    if not cfg.enabled:
        return None
    if importlib.util.find_spec("segno") is None:
        log.error("sharing off: no QR codes without segno (%s)", SEGNO_FIX)
        return None
    try:
        shelf = Shelf(share_root(), cfg.expire_min * 60.0)
        server = ShareServer(shelf, cfg.address, cfg.port)
    except ShareError as e:
        log.error("sharing off: %s (emoticon-mirror doctor checks it)", e)
        return None
    log.info("sharing on: http://%s:%d/ on the booth's network; pages expire after %d min",
             cfg.address, server.port, cfg.expire_min)
    return TakeHome(cfg, look, title, server)
