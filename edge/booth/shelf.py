"""What is shared, and for how long: one folder per snapshot under an unguessable token, deleted
when it expires (share.expire_min), when the mirror stops, and when it starts again after a crash.

The share server (edge/booth/share.py) reads only through `get`, which knows nothing but the
files written here: an address can name a token and one of its files, never a path.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from edge.atomic import write_atomic
from edge.booth.folder_lock import FolderInUse, hold, release

log = logging.getLogger(__name__)

TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16): 128 bits
NAME = re.compile(r"[a-z0-9-]{1,40}\.(png|gif)")
TYPES = {"png": "image/png", "gif": "image/gif"}
LOCK = ".emoticon-mirror-share.lock"  # edge/booth/folder_lock.py


class ShareError(Exception):
    """Sharing cannot start (its folder, its port); the message names what and why."""


@dataclass
class Shared:
    """One snapshot's page: its files in the order the page shows them."""

    token: str
    number: int
    title: str
    made: float  # the shelf's clock
    folder: Path
    files: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (width, height)
    ready: bool = False


def share_root() -> Path:
    """The service's runtime directory (a tmpfs, removed by systemd when the mirror stops); else the
    user's runtime directory, else a private folder in /tmp."""
    base = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0] or os.environ.get("XDG_RUNTIME_DIR", "")
    if base:
        return Path(base) / "share"
    return Path(tempfile.gettempdir()) / f"emoticon-mirror-share-{os.getuid()}"


class Shelf:
    def __init__(self, root: Path, expire_s: float, clock=time.monotonic):
        self.root = root
        self.expire_s = expire_s
        self.clock = clock
        self._lock = threading.Lock()
        # held while expired pages are deleted: a request that finds its page already taken off the
        # shelf by the server's sweep waits for the files to go before it answers 404
        self._deleting = threading.Lock()
        self._items: dict[str, Shared] = {}
        try:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = root.lstat()
        except OSError as e:
            raise ShareError(f"share folder {root}: {e.strerror or e}") from None
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            raise ShareError(f"share folder {root}: not a folder of this user")
        os.chmod(root, 0o700)
        try:  # a second mirror on this machine would delete the first one's pages as leftovers
            self._lock_fd = hold(root, "share", "share")
        except FolderInUse:
            raise ShareError(f"share folder {root} is in use by another mirror") from None
        left = [p for p in root.iterdir() if p.name != LOCK]
        for p in left:  # a crash's leftovers: nothing is kept past a stop either
            _remove(p)
        if left:
            log.info("share folder %s: %d leftover page(s) deleted", root, len(left))

    def reserve(self, number: int, title: str) -> str:
        """A token for snapshot `number`; its page says 'on its way' until `publish`."""
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._items[token] = Shared(token, number, title, self.clock(), self.root / token)
        return token

    def put(self, token: str, name: str, data: bytes, size: tuple[int, int]) -> None:
        """Write one file of the page; an OSError (a full disk) is the caller's to report."""
        if not NAME.fullmatch(name):
            raise ValueError(f"bad file name {name!r}")
        with self._lock:
            item = self._items.get(token)
        if item is None:
            return  # expired meanwhile
        item.folder.mkdir(mode=0o700, exist_ok=True)
        write_atomic(item.folder / name, data, sync=False)  # in RAM under the service; gone at expiry anyway
        with self._lock:
            item.files[name] = size

    def publish(self, token: str) -> None:
        with self._lock:
            item = self._items.get(token)
            if item is not None:
                item.ready = True

    def drop(self, token: str) -> None:
        """Forget the page and delete its files (it could not be made)."""
        with self._deleting:
            with self._lock:
                item = self._items.pop(token, None)
            if item is not None:
                _remove(item.folder)

    def state(self, token: str) -> str:
        """pending | ready | gone"""
        item = self.get(token)
        return "gone" if item is None else "ready" if item.ready else "pending"

    def get(self, token: str) -> Shared | None:
        """The page for `token`, or None (unknown, expired: an expired one is deleted now)."""
        with self._lock:
            item = self._items.get(token)
        if item is None:
            with self._deleting:  # "gone" means gone from the disk too
                return None
        if self.clock() - item.made >= self.expire_s:
            self.expire()
            return None
        return item

    def left_s(self, item: Shared) -> float:
        return max(0.0, item.made + self.expire_s - self.clock())

    def expire(self) -> int:
        """Delete every expired page; returns how many."""
        with self._deleting:
            now = self.clock()
            with self._lock:
                old = [t for t, item in self._items.items() if now - item.made >= self.expire_s]
                gone = [self._items.pop(t) for t in old]
            for item in gone:
                _remove(item.folder)
                log.info("shared page of No. %d expired: deleted", item.number)
        return len(gone)

    def close(self) -> None:
        """Delete everything: nothing shared outlives the mirror."""
        with self._deleting:
            with self._lock:
                items, self._items = list(self._items.values()), {}
            for item in items:
                _remove(item.folder)
        release(self._lock_fd)
        self._lock_fd = None


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as e:
        log.warning("share folder: cannot delete %s: %s", path, e.strerror or e)
