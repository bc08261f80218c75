"""Visitor counts per hour, for the exhibitor: counts only, never pictures, embeddings or identities.

A visitor is a face track that lasted at least `min_visit_s` (a passer-by glancing for half a second
is not a visit). Per hour of the visit's start we keep how many visitors there were, how long they
stayed (total and longest), how many seconds each expression was on screen for them, and how many
snapshots were taken. Track ids live only in memory while a face is in front of the mirror; the
file holds nothing that could tell two people apart.

The file is small JSON, rewritten whole at most every `flush_s` and at exit: temp file, fsync,
os.replace, fsync of the folder. A power cut or kill -9 at any moment leaves either the previous or
the new file, never a torn one; a full or read-only disk keeps the counts in memory and retries.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from edge.atomic import write_atomic
from edge.config import state_dir
from edge.booth.folder_lock import hold, release

log = logging.getLogger(__name__)

FILE_NAME = "visitors.json"
VERSION = 1
MAX_GAP_S = 0.5  # a longer gap between two sightings of a track is not counted as expression time


@dataclass
class Hour:
    """One hour's counts (local time of the visits' start)."""

    people: int = 0
    seconds: float = 0.0  # total time the visitors stayed
    longest_s: float = 0.0
    expressions: dict[str, float] = field(default_factory=dict)  # seconds on screen per expression
    snapshots: int = 0

    def add_visit(self, seconds: float, expressions: dict[str, float]) -> None:
        self.people += 1
        self.seconds = round(self.seconds + seconds, 2)
        self.longest_s = round(max(self.longest_s, seconds), 2)
        for name, s in expressions.items():
            self.expressions[name] = round(self.expressions.get(name, 0.0) + s, 2)


@dataclass
class _Visit:
    hour: str
    first_t: float
    last_t: float
    expressions: dict[str, float] = field(default_factory=dict)


def hour_key(wall: float) -> str:
    """'YYYY-MM-DDTHH' in local time: the exhibitor reads opening hours on the local clock."""
    return time.strftime("%Y-%m-%dT%H", time.localtime(wall))


def stats_path(folder: str) -> Path:
    """Absolute, so that a later chdir (gpiozero's lgpio moves to $LG_WD) cannot move the file."""
    return ((Path(folder).expanduser() if folder else state_dir()) / FILE_NAME).absolute()


class StatsFileError(Exception):
    """The counts file exists but cannot be read as counts; the message names the file."""


def load(path: Path) -> dict[str, Hour]:
    """The hours in `path`; none when it does not exist yet. Raises StatsFileError when unreadable."""
    try:
        data = json.loads(path.read_bytes())
    except (FileNotFoundError, NotADirectoryError):  # no file yet, or no folder for it yet
        return {}
    except (OSError, ValueError) as e:
        raise StatsFileError(f"{path}: not a visitor counts file ({e})") from None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("hours"), dict):
        raise StatsFileError(f"{path}: not a visitor counts file (version {data.get('version')!r})"
                             if isinstance(data, dict) else f"{path}: not a visitor counts file")
    try:
        hours = {k: Hour(**v) for k, v in sorted(data["hours"].items())}
    except TypeError as e:
        raise StatsFileError(f"{path}: unexpected fields ({e})") from None
    for key, h in hours.items():  # a hand-edited value would otherwise fail in the frame loop
        problem = _wrong(key, h)
        if problem:
            raise StatsFileError(f"{path}: hour {key!r}: {problem}")
    return hours


def _wrong(key: str, h: Hour) -> str | None:
    """What is wrong with one hour as read from the file, if anything."""
    try:
        time.strptime(key, "%Y-%m-%dT%H")
    except (TypeError, ValueError):
        return "not an hour like 2026-12-07T14"

    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0

    for name in ("people", "snapshots"):
        if not (isinstance(getattr(h, name), int) and not isinstance(getattr(h, name), bool) and getattr(h, name) >= 0):
            return f"{name} must be a whole number >= 0, not {getattr(h, name)!r}"
    for name in ("seconds", "longest_s"):
        if not number(getattr(h, name)):
            return f"{name} must be a number >= 0, not {getattr(h, name)!r}"
    if not isinstance(h.expressions, dict) or not all(isinstance(k, str) and number(v) for k, v in h.expressions.items()):
        return f"expressions must map names to seconds >= 0, not {h.expressions!r}"
    return None


def dump(hours: dict[str, Hour]) -> bytes:
    body = {"version": VERSION, "hours": {k: asdict(h) for k, h in sorted(hours.items())}}
    return (json.dumps(body, separators=(",", ":"), sort_keys=True) + "\n").encode()


class VisitorStats:
    """Turns the faces on screen, frame by frame, into per-hour counts and keeps them on disk.

    `t` is the frame clock (seconds; the camera's capture time, or frame index / fps for the demo
    and files, so that a headless demo counts the seconds it shows, not the seconds it took).
    """

    def __init__(self, path: Path, min_visit_s: float = 2.0, flush_s: float = 60.0, keep_days: int = 400,
                 gone_after_s: float = 1.0, wall: Callable[[], float] = time.time):
        self.path = path
        self.min_visit_s = min_visit_s
        self.flush_s = flush_s
        self.keep_hours = keep_days * 24
        self.gone_after_s = gone_after_s
        self.wall = wall
        self._visits: dict[int, _Visit] = {}
        self._dirty = False
        self._last_flush: float | None = None
        self._failing = ""
        self._aside = False  # a bad counts file still to be kept aside before the first write
        with contextlib.suppress(OSError):  # a read-only or missing disk: counted in memory, retried
            path.parent.mkdir(parents=True, exist_ok=True)
        self._held = hold(path.parent, "counts", "stats.dir")
        for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a crash mid-write
            with contextlib.suppress(OSError):
                stale.unlink(missing_ok=True)
        try:
            self.hours = load(path)
        except StatsFileError as e:
            # keep the evidence, start counting again: a kiosk must not stop for its statistics
            log.warning("%s; kept aside as %s.bad, counting from zero", e, path.name)
            self.hours, self._aside = {}, True
            with contextlib.suppress(OSError):
                self._keep_aside()

    def observe(self, faces: list[tuple[int, str]], t: float) -> None:
        """This frame's faces as (track id, expression shown); ends visits whose track is gone."""
        for track_id, expression in faces:
            v = self._visits.get(track_id)
            if v is None:
                self._visits[track_id] = _Visit(hour_key(self.wall()), t, t)
                continue
            dt = t - v.last_t
            if 0.0 < dt <= MAX_GAP_S:
                v.expressions[expression] = v.expressions.get(expression, 0.0) + dt
            v.last_t = max(v.last_t, t)
        for track_id in [k for k, v in self._visits.items() if t - v.last_t > self.gone_after_s]:
            self._end(self._visits.pop(track_id))
        if self._dirty and (self._last_flush is None or t - self._last_flush >= self.flush_s or t < self._last_flush):
            self._last_flush = t
            self.flush()

    def snapshot_taken(self) -> None:
        self._hour(hour_key(self.wall())).snapshots += 1
        self._dirty = True

    def close(self) -> None:
        """End every visit in progress (the mirror is stopping) and write."""
        for v in self._visits.values():
            self._end(v)
        self._visits.clear()
        if self._dirty:
            self.flush()
        release(self._held)
        self._held = None

    def flush(self) -> bool:
        """Write the counts now; False (and a log line when the reason changes) if the disk refuses."""
        cutoff = hour_key(self.wall() - self.keep_hours * 3600.0)
        for k in [k for k in self.hours if k < cutoff]:
            del self.hours[k]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._keep_aside()
            write_atomic(self.path, dump(self.hours))
        except OSError as e:
            reason = f"visitor counts not written to {self.path} ({e.strerror or e}); kept in memory, retrying"
            if reason != self._failing:
                log.warning("%s", reason)
                self._failing = reason
            return False
        if self._failing:
            log.info("visitor counts written again to %s", self.path)
            self._failing = ""
        self._dirty = False
        return True

    def _keep_aside(self) -> None:
        """Move a bad counts file to .bad (raises OSError while the disk refuses; tried again at the
        next write, which must not go over it)."""
        if self._aside:
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.path, self.path.with_name(self.path.name + ".bad"))
            self._aside = False

    def _hour(self, key: str) -> Hour:
        return self.hours.setdefault(key, Hour())

    def _end(self, v: _Visit) -> None:
        stayed = v.last_t - v.first_t
        if stayed >= self.min_visit_s:
            self._hour(v.hour).add_visit(stayed, v.expressions)
            self._dirty = True
