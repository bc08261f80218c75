"""One way to write a file that a power cut or kill -9 cannot leave half-written.

Write a temp file beside it, fsync, os.replace over the old one, fsync the folder: at every instant
the path holds either the old or the new bytes. Used for the visitor counts and the snapshot cards.
"""
from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data`; on any error the temp file is removed and the error raised."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself must reach the disk before we call it written
    finally:
        os.close(fd)
