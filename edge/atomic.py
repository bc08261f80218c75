"""One way to write a file that a power cut or kill -9 cannot leave half-written.

Write a temp file beside it, fsync, os.replace over the old one, fsync the folder: at every instant
the path holds either the old or the new bytes. Used for the visitor counts and the snapshot cards.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

# What the exhibitor may read, whatever the umask (the unit's UMask=0077 made cards 0600 on a stick).
# A FAT stick has no modes: there its mount options decide, and the chmod is skipped quietly.
FILE_MODE = 0o644
FOLDER_MODE = 0o755


def make_folder(folder: Path) -> None:
    """`folder` and any missing parents, each FOLDER_MODE; folders already there are left as they are."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    for p in missing:
        with contextlib.suppress(OSError):
            os.chmod(p, FOLDER_MODE)


def write_atomic(path: Path, data: bytes, sync: bool = True) -> None:
    """Replace `path` with `data` (FILE_MODE); on any error the temp file is removed and the error
    raised. sync=False skips the fsyncs (a stream of frames: whole files, not power-cut-proof ones)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            with contextlib.suppress(OSError):
                os.fchmod(fh.fileno(), FILE_MODE)
            fh.write(data)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if not sync:
        return
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself must reach the disk before we call it written
    finally:
        os.close(fd)


def save_picture(surface, path: Path, sync: bool = True) -> None:
    """A pygame surface to a picture file, whole or not at all: a full disk or an unwritable place
    is an OSError naming the file, never a truncated PNG or a pygame.error."""
    import io

    import pygame

    buf = io.BytesIO()
    try:
        pygame.image.save(surface, buf, path.name)
    except pygame.error as e:
        raise OSError(f"{path}: cannot encode the picture ({e})") from None
    try:
        write_atomic(path, buf.getvalue(), sync)
    except OSError as e:
        raise OSError(f"{path}: cannot write ({e.strerror or e})") from None
