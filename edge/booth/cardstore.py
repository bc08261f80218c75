"""Where snapshot cards go: numbered PNGs in snapshot.dir, and the printer, off the frame loop.

Encoding a 1200x1800 PNG, writing it to a USB stick and waiting for `lp` take far longer than a
frame, so one worker thread does them. A card that cannot be written (stick full, read-only or
pulled out) stays in memory and is retried, and is still printed from memory; a card the printer
refuses stays saved. Each outcome is one line for the screen (`status`) and the log.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import queue
import re
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.atomic import write_atomic
from edge.booth.printer import Printer, PrintError

log = logging.getLogger(__name__)

RETRY_S = 20.0  # unsaved cards are retried this often (and whenever a new card comes)
MAX_PENDING = 24  # ~2 MB each: a bounded amount of memory however long the stick is missing
NAME = re.compile(r"^\.?card-(\d{4,})\.(?:png|claim)$")  # a card, or a number claimed for one being written

REASONS = {errno.ENOSPC: "folder full", errno.EDQUOT: "folder full", errno.EROFS: "folder read-only",
           errno.EACCES: "folder not writable", errno.EPERM: "folder not writable",
           errno.ENOENT: "folder missing (USB stick removed?)", errno.ENODEV: "USB stick removed",
           errno.EIO: "USB stick error"}


@dataclass
class Card:
    number: int
    png: bytes
    saved: Path | None = None
    printed: bool = False


@dataclass(frozen=True)
class Status:
    """The latest outcome, for the screen: ok = saved (and printed, when printing)."""

    number: int
    ok: bool
    line: str


def encode_png(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


class CardStore:
    def __init__(self, folder: Path, printer: Printer | None = None):
        self.folder = folder
        self.printer = printer
        self._mounted = os.path.ismount(folder)  # a stick's mount point: notice when it is pulled
        self._next = self._scan() + 1
        self._jobs: queue.Queue[tuple[int, np.ndarray] | None] = queue.Queue()
        self._pending: deque[Card] = deque()
        self._lock = threading.Lock()
        self._status: Status | None = None
        self._version = 0
        self._thread = threading.Thread(target=self._run, name="cards", daemon=True)
        self._thread.start()

    def _scan(self) -> int:
        try:
            return max((int(m.group(1)) for p in self.folder.iterdir() if (m := NAME.match(p.name))), default=0)
        except OSError:
            return 0

    def reserve(self) -> int:
        """The number the next card will carry (shown on the card itself): the next free one in the
        folder, claimed there with a file only this mirror can create (O_EXCL), so that two mirrors
        sharing a folder never print the same number. Nothing stays open on the stick (it unmounts
        cleanly); the claim goes once the card is written. A folder that cannot take the claim now
        (missing, full, read-only, pulled) numbers from memory."""
        n = max(self._next, self._scan() + 1)
        while not (self._mounted and not os.path.ismount(self.folder)):
            try:
                os.close(os.open(self._claim(n), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            except FileExistsError:
                n += 1
                continue
            except OSError:
                break
            if not (self.folder / f"card-{n:04d}.png").exists():  # written and unclaimed meanwhile
                break
            self._claim(n).unlink(missing_ok=True)
            n += 1
        self._next = n + 1
        return n

    def _claim(self, number: int) -> Path:
        return self.folder / f".card-{number:04d}.claim"

    def submit(self, number: int, rgb: np.ndarray) -> None:
        """Save (and print) the card `rgb` (H x W x 3 uint8, a copy the caller no longer touches)."""
        self._jobs.put((number, rgb))

    def status(self) -> tuple[int, Status | None]:
        """(a counter that changes with each new outcome, the latest outcome)."""
        with self._lock:
            return self._version, self._status

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def close(self, timeout_s: float = 10.0) -> None:
        self._jobs.put(None)
        self._thread.join(timeout_s)
        lost = self.pending()
        if lost:
            log.error("%d card(s) could not be saved to %s before exit", lost, self.folder)

    def wait_idle(self) -> None:
        """Until every submitted card has been handled (tests and exit)."""
        self._jobs.join()

    # ---------------------------------------------------------------------------------------- worker

    def _run(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=RETRY_S)
            except queue.Empty:
                self._retry()
                continue
            try:
                if job is None:
                    self._retry()
                    return
                number, rgb = job
                try:
                    card = Card(number, encode_png(rgb))
                except (ValueError, cv2.error) as e:
                    self._report(Status(number, False, f"Card {number} not made: {e}"))
                    continue
                self._retry()
                self._handle(card)
            finally:
                self._jobs.task_done()

    def _retry(self) -> None:
        while True:
            with self._lock:
                card = self._pending[0] if self._pending else None
            if card is None or self._save(card):
                return
            with self._lock:
                self._pending.popleft()
            log.info("card %d saved to %s after a retry", card.number, card.saved)

    def _handle(self, card: Card) -> None:
        problem = ""
        reason = self._save(card)
        if reason:
            with self._lock:
                self._pending.append(card)
                while len(self._pending) > MAX_PENDING:
                    lost = self._pending.popleft()
                    log.error("card %d dropped: %d cards waiting for %s", lost.number, MAX_PENDING, self.folder)
                waiting = len(self._pending)
            problem = f"Card {card.number} not saved: {self.folder} {reason} - kept, retrying ({waiting} waiting)"
        if self.printer is not None:
            try:
                self.printer.send(f"card {card.number:04d}", card.saved, None if card.saved else card.png)
                card.printed = True
            except PrintError as e:
                problem = f"{problem}; {e}" if problem else f"Card {card.number} saved, not printed: {e}"
        if not problem:
            line = f"Saved - No. {card.number}" + (" - printing" if card.printed else "")
            self._report(Status(card.number, True, line))
            return
        # the operator's words (a printer's name, a folder, a retry count) go to the log and doctor; the
        # visitor in front of the screen reads what happened to their card
        log.warning("%s", problem)
        line = f"Saved - No. {card.number}" if card.saved else f"No. {card.number} is kept and will be saved"
        self._report(Status(card.number, False, line))

    def _save(self, card: Card) -> str:
        """Writes the card; '' when saved, else the reason in a few words."""
        number = card.number
        try:
            if self._mounted and not os.path.ismount(self.folder):
                raise OSError(errno.ENODEV, "not mounted")
            path = self.folder / f"card-{card.number:04d}.png"
            if path.exists():  # a stick plugged in with cards from another day: do not overwrite
                card.number = max(card.number, self._scan() + 1)
                path = self.folder / f"card-{card.number:04d}.png"
            write_atomic(path, card.png)
        except OSError as e:
            return REASONS.get(e.errno or 0, e.strerror or str(e))
        card.saved = path
        with contextlib.suppress(OSError):
            self._claim(number).unlink(missing_ok=True)
        return ""

    def _report(self, status: Status) -> None:
        log.info("%s", status.line)  # what the visitor read; an operator's problem is logged apart
        with self._lock:
            self._status = status
            self._version += 1
