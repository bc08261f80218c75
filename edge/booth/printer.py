"""Sending a card to a CUPS printer with `lp`, so a visitor takes home a sticker.

`lp` (cups-client) talks to the local CUPS daemon over its socket (/run/cups/cups.sock); no network.
Every failure - lp missing, no such printer, a full queue, CUPS down, lp hanging - becomes one
PrintError line for the screen and the log; the caller keeps the card and the mirror keeps running.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class PrintError(Exception):
    """The card was not printed; the message is one line naming the printer and the reason."""


@dataclass(frozen=True)
class Printer:
    name: str
    media: str = ""  # lp -o media=..., e.g. "4x6" or "w288h432"; "" = the printer's default
    timeout_s: float = 15.0
    lp: str = "lp"

    def command(self, title: str, path: Path | None) -> list[str]:
        cmd = [self.lp, "-d", self.name, "-t", title, "-o", "fit-to-page"]
        if self.media:
            cmd += ["-o", f"media={self.media}"]
        return cmd + (["--", str(path)] if path is not None else [])  # no file: lp reads stdin

    def send(self, title: str, path: Path | None = None, data: bytes | None = None) -> str:
        """Print the file at `path` (or `data` through stdin when the file could not be saved);
        returns lp's answer ('request id is ...')."""
        cmd = self.command(title, path)
        try:
            # a session of its own: on a timeout the whole group goes, not only lp (a wrapper script
            # or filter left behind would hold the pipes open and block us anyway)
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if path is None else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        except FileNotFoundError:
            raise PrintError(f"printer {self.name}: {self.lp} not found (apt install cups-client)") from None
        except OSError as e:
            raise PrintError(f"printer {self.name}: cannot run {self.lp} ({e.strerror or e})") from None
        try:
            out, err = proc.communicate(data if path is None else None, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise PrintError(f"printer {self.name}: lp did not answer in {self.timeout_s:.0f} s") from None
        if proc.returncode != 0:
            lines = [ln.strip() for ln in err.decode(errors="replace").splitlines() if ln.strip()]
            reason = lines[-1] if lines else f"lp exited with {proc.returncode}"
            raise PrintError(f"printer {self.name}: {reason.removeprefix('lp: ').removeprefix('Error - ')}")
        answer = out.decode(errors="replace").strip()
        log.info("printed %s on %s: %s", title, self.name, answer)
        return answer
