"""The snapshot's 3-2-1: idle -> counting -> (capture) -> frozen -> idle.

Time is the frame clock the loop passes in (capture time for a camera, frame index / fps for the
demo), so the countdown lasts countdown_s of what the screen shows, tests need no sleeping, and a
press while counting or frozen is ignored rather than queued (a held or bouncing button takes one
picture).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

FREEZE_S = 2.5  # the frozen picture and "Saved - No. N" stay this long


@dataclass
class Countdown:
    countdown_s: int = 3
    state: str = "idle"  # idle | counting | frozen
    since: float = 0.0

    def press(self, t: float) -> bool:
        """Start counting at frame time t; False when a snapshot is already under way."""
        if self.state != "idle":
            return False
        self.state, self.since = "counting", t
        return True

    def tick(self, t: float) -> bool:
        """Advance to frame time t; True exactly once per press: take the card now."""
        if self.state == "counting" and t - self.since >= self.countdown_s:
            self.state, self.since = "frozen", t
            return True
        if self.state == "frozen" and t - self.since >= FREEZE_S:
            self.state = "idle"
        return False

    def cancel(self) -> None:
        self.state = "idle"

    def number(self, t: float) -> int | None:
        """The digit to show while counting (3, 2, 1), else None."""
        if self.state != "counting":
            return None
        return max(1, math.ceil(self.countdown_s - (t - self.since)))

    def phase(self, t: float) -> float:
        """0..1 within the current second of the count (for the digit's animation)."""
        if self.state != "counting":
            return 0.0
        return (t - self.since) % 1.0
