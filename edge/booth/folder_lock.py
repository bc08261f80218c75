"""One mirror per counts folder: two mirrors writing visitor counts into one folder overwrote each
other's counts. Each holds a lock file in the folder for its life. (Not the snapshot folder: a lock
held open on a USB stick would keep it from being unmounted; cards claim their numbers one by one,
edge/booth/cardstore.py.)"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path


class FolderInUse(OSError):
    """Another mirror holds the folder; the message names the folder and the key."""


def hold(folder: Path, role: str, key: str) -> int | None:
    """An exclusive lock on `folder`/.emoticon-mirror-`role`.lock, held until `release`. FolderInUse
    when another process holds it; None when the folder cannot hold a lock file now (not there yet,
    full or read-only: the card store and the counts cope with those on their own)."""
    try:
        fd = os.open(folder / f".emoticon-mirror-{role}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise FolderInUse(f"{key} {folder} is in use by another mirror (both would write their counts over each "
                          "other's): stop that one, or give this one a folder of its own") from None
    return fd


def release(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the last descriptor lets the lock go
