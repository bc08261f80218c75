"""Per-face animation state on the live screen: what a face should show and shows, where it glides,
when it blinks. The renderer keeps one per person and draws from it; nothing here draws."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from edge.render import layout
from edge.render.style import Appearance


CROSSFADE_S = 0.2  # state change: old surface under the new one fading in
GLIDE_TAU_S = 0.07  # position/size easing time constant (~250 ms to settle)
BLINK_S = 0.17
BLINK_EVERY_S = (2.5, 6.0)
SIZE_STEP = 4  # cached sizes are multiples of this many pixels


def size_key(d: float) -> int:
    return max(SIZE_STEP * 2, int(round(d / SIZE_STEP)) * SIZE_STEP)



def ease(t: float) -> float:
    t = min(1.0, max(0.0, t))
    return t * t * (3 - 2 * t)


def blinkable(look: Appearance) -> bool:
    params, style = look
    return style.eyewear != "sunglasses" and params.eye_smile < 0.5


@dataclass
class Anim:
    """Per-face motion state: what it should show, what it shows, where it is, when it blinks."""

    key: int
    want: Appearance  # the latest look asked for
    seed: int
    base: Appearance | None = None  # `want` without live motion: a change here crossfades, motion cuts
    shown_base: Appearance | None = None
    live: bool = False  # driven by live motion: its own blinks, no automatic ones
    shown: Appearance | None = None  # on screen; None until the first surface is ready
    prev: Appearance | None = None  # fading out under `shown`
    changed_at: float = -1e9
    born: float = 0.0  # when it became visible: the fade-in starts here
    gone_at: float | None = None
    x: float = 0.0
    y: float = 0.0
    d: float = 0.0
    tx: float = 0.0
    ty: float = 0.0
    td: float = 0.0
    size: int = 0  # the last size `shown` was available at: the fallback while the size changes
    next_blink: float = 0.0
    blink_at: float = -1e9
    pose_at: float = -1e9  # when the shown look last changed, by motion or expression
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def show(self, look: Appearance, now: float) -> None:
        """Put `look` on screen (its surface exists): fade in a new face, crossfade a known one, cut
        to a new pose of the same expression (motion must follow the person, not lag 200 ms)."""
        if self.shown is None:
            self.shown, self.born, self.shown_base, self.pose_at = look, now, self.base, now
            self.next_blink = now + self.rng.uniform(1.2, 3.5)
            return
        if look == self.shown:
            return
        if self.motion_only():
            self.shown, self.shown_base, self.pose_at = look, self.base, now
            return
        self.shown_base, self.pose_at = self.base, now
        # interrupted early in a crossfade, the old look is still what people see: fade from it
        if self.prev is None or (now - self.changed_at) / CROSSFADE_S >= 0.5:
            self.prev = self.shown
        self.shown, self.changed_at = look, now

    def motion_only(self) -> bool:
        """`want` differs from what is shown by live motion alone (a base look includes the style)."""
        return self.live and self.base == self.shown_base

    def set_target(self, slot: layout.Slot, fresh: bool) -> None:
        # the diameter snaps to a cached size, so a settled face is a plain blit, never a rescale
        self.tx, self.ty, self.td = slot.cx, slot.cy, float(size_key(slot.d))
        if fresh:
            self.x, self.y, self.d = slot.cx, slot.cy, self.td

    def glide(self, dt: float) -> None:
        k = 1.0 - math.exp(-dt / GLIDE_TAU_S) if dt > 0 else 0.0
        self.x += (self.tx - self.x) * k
        self.y += (self.ty - self.y) * k
        self.d += (self.td - self.d) * k
        if abs(self.d - self.td) < 0.5:
            self.d = self.td

    def eye_factor(self, now: float) -> float:
        """1 open, 0.5 half, 0 closed; the few levels keep blinks to two cached variants."""
        if now >= self.next_blink:
            self.blink_at = now
            double = self.rng.random() < 0.15
            self.next_blink = now + (0.35 if double else self.rng.uniform(*BLINK_EVERY_S))
        u = (now - self.blink_at) / BLINK_S
        if not 0.0 <= u < 1.0:
            return 1.0
        f = 1.0 - math.sin(math.pi * u)
        return 1.0 if f > 0.75 else 0.5 if f > 0.3 else 0.0

    def bob(self, now: float, d: float) -> tuple[int, int]:
        ph = (self.seed % 997) * 0.61
        return (round(0.008 * d * math.sin(2 * math.pi * now / 5.7 + ph * 1.3)),
                round(0.014 * d * math.sin(2 * math.pi * now / 3.3 + ph)))

