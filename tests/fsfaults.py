"""Real file-system faults for the tests: a full folder and a read-only folder.

As root (CI containers, the Pi's own test run) these are small tmpfs mounts, so the kernel itself
says ENOSPC / EROFS; as a normal user a read-only folder is a chmod 500 folder and a full one
cannot be made, so that test is skipped with the reason.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest


def _mount(args: list[str]) -> bool:
    return subprocess.run(args, capture_output=True).returncode == 0


@contextlib.contextmanager
def faulty_dir(base: Path, kind: str, fill=None):
    """A folder under `base` that is `kind` = 'full' or 'readonly'; yields its path. `fill(path)`
    puts files in it first (a read-only folder that already holds something)."""
    path = base / kind
    path.mkdir()
    if os.geteuid() == 0 and _mount(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(path)]):
        try:
            if fill:
                fill(path)
            if kind == "full":
                with contextlib.suppress(OSError), open(path / "filler", "wb") as fh:
                    while True:
                        fh.write(b"\0" * 4096)
                        fh.flush()
            elif not _mount(["mount", "-o", "remount,ro", str(path)]):
                pytest.skip("cannot remount a tmpfs read-only here")
            yield path
        finally:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)
        return
    if os.geteuid() == 0:  # root writes through chmod 500, so only a real read-only mount will do
        pytest.skip("root without permission to mount a tmpfs here")
    if kind == "full":
        pytest.skip("a full folder needs a small tmpfs mount (root)")
    if fill:
        fill(path)
    path.chmod(0o500)
    try:
        yield path
    finally:
        path.chmod(0o700)
