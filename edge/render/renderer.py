"""The live screen: faces, attract, message, overlay and camera picture-in-picture.

Speed comes from drawing every emoticon variant once (in its VariantCache, per variant and size)
and then only blitting: a state change is a 200 ms crossfade between two cached surfaces, a blink is
two extra cached variants (half-closed, closed), idle motion is a small translation.

Frame time stays flat because drawing new variants is budgeted: a frame builds at most what fits in
BUILD_BUDGET_S (always at least one, so a slow Pi still makes progress). Anything that does not fit
waits a frame: a new face starts its fade-in, or a changed face its crossfade, one frame (~16 ms)
later; a face whose size changed is scaled from its old size meanwhile; blink frames are warmed in
the background (edge/render/warm.py) and a blink is skipped rather than stalled for.

While only faces are on screen, a frame erases just where the last one drew (edge/render/dirty.py);
`changed` lists what differs from the last frame, for a display that updates only those parts.

No pygame.display call is made here: the caller owns the display (or has none).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time

import pygame

from edge.render import layout
from edge.render.anim import CROSSFADE_S, Anim, blinkable, ease, size_key
from edge.render.dirty import DirtyRects
from edge.render.emoticon import CACHE_BYTES, Style, VariantCache
from edge.render.look import Look as ExhibitorLook
from edge.render.style import Appearance
from edge.render.appearance import face_looks
from edge.render.params import expression_params
from edge.render.pip import draw_pip, pip_rect
from edge.render.text import TextCache
from edge.render.warm import WarmQueue
from edge.state import EmoticonState, FaceView, Scene

log = logging.getLogger(__name__)


MAX_FACES = 4
FADE_IN_S = 0.25
FADE_OUT_S = 0.3
SCREEN_FADE_S = 0.35  # attract / message screens fade in and out
ATTRACT_STEP_S = 2.8
BUILD_BUDGET_S = 0.010  # new variants are built while the frame so far took less than this
SETTLE_S = 0.25  # a live pose held this long gets its smooth variant built; moving, drafts are shown

TEXT = (246, 244, 255)
TEXT_DIM = (190, 186, 220)

ATTRACT_SHOWCASE: tuple[EmoticonState, ...] = (
    EmoticonState("happy", "yellow"),
    EmoticonState("surprise", "light", "glasses", "round"),
    EmoticonState("happy", "medium", "sunglasses"),
    EmoticonState("neutral", "medium_dark", "glasses", "rectangular"),
    EmoticonState("happy", "dark"),
    EmoticonState("surprise", "medium_light", mask=True),
)


def _blit_alpha(dst: pygame.Surface, src: pygame.Surface, pos: tuple[int, int], alpha: float) -> None:
    """Blit with a whole-surface alpha, leaving `src` as it was (it may be a shared cached surface)."""
    a = int(round(alpha * 255))
    if a <= 0:
        return
    if a >= 255:
        dst.blit(src, pos)
        return
    src.set_alpha(a)
    dst.blit(src, pos)
    src.set_alpha(255)


class Renderer:
    """Draws a `Scene` at a fixed logical screen size; keep one per display size."""

    def __init__(self, size: tuple[int, int], pip: bool = False, look: ExhibitorLook | None = None,
                 cache: VariantCache | None = None):
        """`cache`: where this screen's emoticon variants live; by default its own, CACHE_BYTES big.
        Pass one in to bound it differently or to read its figures (builds, bytes)."""
        self.size = (int(size[0]), int(size[1]))
        self.cache = cache if cache is not None else VariantCache(CACHE_BYTES)
        self.pip = pip
        self.look = look or ExhibitorLook()  # the exhibitor's background, logo, attract texts and font
        self._screen = pygame.Surface(self.size)
        self._background = self.look.background(self.size)
        self._text = TextCache(font_path=self.look.font_path)
        self._anims: dict[int, Anim] = {}
        self._leaving: list[Anim] = []
        self._attract: Anim | None = None
        self._message: Anim | None = None
        self._attract_alpha = 0.0
        self._message_alpha = 0.0
        self._last_message = ""
        self._last_now: float | None = None
        self._frame_t0 = 0.0
        self._built = 0  # variants built in this frame
        self._warm = WarmQueue(self.cache)
        self._pip_rect: layout.Rect | None = None
        self._warned_many = False
        self._dirty = DirtyRects()

    # ---------------------------------------------------------------------------------------- public

    def render(self, scene: Scene, now: float) -> pygame.Surface:
        self._frame_t0 = time.perf_counter()
        self._built = 0
        dt = 0.0 if self._last_now is None else min(0.25, max(0.0, now - self._last_now))
        self._last_now = now
        screen = self._screen

        mode = "message" if scene.message else ("faces" if scene.faces else "attract")
        self._pip_rect = pip_rect(self.size, scene.camera_rgb) if self.pip and scene.camera_rgb is not None else None
        self._attract_alpha = self._fade(self._attract_alpha, mode == "attract", dt)
        self._message_alpha = self._fade(self._message_alpha, mode == "message", dt)
        faces_only = mode == "faces" and self._attract_alpha == 0 and self._message_alpha == 0 and self._pip_rect is None
        self._dirty.begin(screen, self._background, faces_only)

        self._update_faces(scene.faces if mode == "faces" else [], now, dt)
        if self._attract_alpha > 0:
            self._draw_attract(now, ease(self._attract_alpha))
        else:
            self._attract = None
        if scene.message:
            self._last_message = scene.message
        if self._message_alpha > 0:
            self._draw_message(self._last_message, now, ease(self._message_alpha))
        else:
            self._message = None
        self._draw_faces(now)
        if self._pip_rect is not None:
            draw_pip(screen, scene.camera_rgb, self._pip_rect)
        if scene.overlay:
            self._draw_overlay(scene.overlay)
        self._built = self._warm.build(self._frame_t0, BUILD_BUDGET_S * 0.6, self._built)
        self._dirty.end(faces_only)
        return screen

    @property
    def changed(self) -> list[pygame.Rect] | None:
        """The parts of the last frame that differ from the one before (None: all of it)."""
        return self._dirty.changed

    def invalidate(self) -> None:
        """Someone drew on the returned screen (the booth's countdown): the next frame redraws it all."""
        self._dirty.invalidate()

    def _put(self, surf: pygame.Surface, pos: tuple[int, int], alpha: float = 1.0) -> None:
        """A blit onto the screen that the next frame knows to erase."""
        _blit_alpha(self._screen, surf, pos, alpha)
        self._dirty.add(self._screen, pos, surf.get_size())

    @property
    def warm_ms(self) -> float:
        """CPU ms the last frame spent on variants nobody waited for, in time it had to spare."""
        return self._warm.ms

    def shown(self) -> dict[int, Appearance]:
        """What each live face shows now, by track id: the params and style its surface was drawn
        from. For measuring what reaches the screen (edge/commands/motion_latency.py) without reading pixels."""
        return {tid: anim.shown for tid, anim in self._anims.items() if anim.shown is not None}

    @staticmethod
    def _fade(alpha: float, on: bool, dt: float) -> float:
        """A screen's opacity one frame on; a screen switched on starts drawing (and building) at
        once, fully faded, so its face is ready when it becomes visible."""
        step = dt / SCREEN_FADE_S
        return max(1e-3, min(1.0, alpha + step)) if on else max(0.0, alpha - step)

    # ---------------------------------------------------------------------------------------- faces

    def _update_faces(self, faces: list[FaceView], now: float, dt: float) -> None:
        if len(faces) > MAX_FACES:
            if not self._warned_many:
                log.info("%d faces in the scene; showing the first %d", len(faces), MAX_FACES)
                self._warned_many = True
            faces = faces[:MAX_FACES]
        order = sorted(faces, key=lambda f: (layout.mirror_x(f.center_x), f.track_id))
        W, H = self.size
        ys = [f.center_y for f in order]
        tiers = len(order) > 1 and max(ys) - min(ys) > layout.TIER_SPREAD
        slots = layout.face_slots(len(order), W, H, avoid=self._pip_rect, tiers=tiers)
        places = [(layout.mirror_x(f.center_x), f.center_y) for f in order]
        seen = set()
        for view, j in zip(order, layout.assign(places, slots, W, H) if tiers else range(len(slots))):
            slot = slots[j]
            seen.add(view.track_id)
            anim = self._anims.get(view.track_id)
            fresh = anim is None
            base, want = self._looks(view)
            shown = None if fresh else anim.shown
            if (shown is not None and view.motion is not None and base == anim.shown_base and want[1] == shown[1]
                    and want[0].near(shown[0])):
                want = shown  # a live pose within one step of the shown one: noise, not motion
            if fresh:
                anim = Anim(view.track_id, want, seed=view.track_id * 7919 + 17)
                self._anims[view.track_id] = anim
            anim.base, anim.want, anim.live = base, want, view.motion is not None
            anim.set_target(slot, fresh)
        for tid in [t for t in self._anims if t not in seen]:
            anim = self._anims.pop(tid)
            if anim.shown is not None:  # a face never shown has nothing to fade out
                anim.gone_at = now
                self._leaving.append(anim)
        self._leaving = [a for a in self._leaving if now - (a.gone_at or now) < FADE_OUT_S]
        for anim in self._anims.values():
            anim.glide(dt)

    @staticmethod
    def _looks(view: FaceView) -> tuple[Appearance, Appearance]:
        return face_looks(view)  # edge/render/appearance.py: shared with the snapshot card

    def _draw_faces(self, now: float) -> None:
        for anim in self._leaving:
            self._draw_anim(anim, now, 1.0 - (now - (anim.gone_at or now)) / FADE_OUT_S, build=False)
        for anim in self._anims.values():
            self._draw_anim(anim, now, 1.0)

    def _may_build(self) -> bool:
        return self._built == 0 or time.perf_counter() - self._frame_t0 < BUILD_BUDGET_S

    def _variant(self, look: Appearance, size: int, fallback: int = 0, build: bool = True) -> pygame.Surface | None:
        """A look's surface at `size`: cached, else built if the frame budget allows, else the
        same look at the `fallback` size (to be scaled by the caller), else None."""
        params, style = look
        surf = self.cache.peek(params, style, size)
        if surf is not None:
            return surf
        if build and self._may_build():
            self._built += 1
            surf = self.cache.get(params, style, size)
            if blinkable(look) and params.eye_open_l > 0.9:
                self._warm.add(params.with_eyes(0.5), style, size)
                self._warm.add(params.with_eyes(0.0), style, size)
            return surf
        if fallback and fallback != size:
            surf = self.cache.peek(params, style, fallback)
            if surf is not None:
                self._warm.add(params, style, size)
                return surf
        return None

    def _live_variant(self, anim: Anim, look: Appearance, size: int, now: float, build: bool) -> pygame.Surface | None:
        """A live pose: the smooth variant if cached, else a draft (cheap to build); the smooth one
        is queued once the pose has been held for SETTLE_S, so a moving face builds only drafts."""
        params, style = look
        surf = self.cache.peek(params, style, size)
        if surf is not None:
            return surf
        surf = self.cache.peek(params, style, size, draft=True)
        if surf is None and build and self._may_build():
            self._built += 1
            surf = self.cache.get(params, style, size, draft=True)
        if surf is not None and look == anim.shown and now - anim.pose_at >= SETTLE_S:
            self._warm.add(params, style, size)
        return surf

    def _draw_anim(self, anim: Anim, now: float, alpha: float, build: bool = True) -> None:
        size = int(anim.td)
        if build and anim.want != anim.shown:
            if anim.shown is not None and anim.motion_only():
                ready = self._live_variant(anim, anim.want, size, now, build)
            else:
                ready = self._variant(anim.want, size)
            if ready is not None:
                anim.show(anim.want, now)
        if anim.shown is None:
            return
        alpha = ease(alpha) * ease((now - anim.born) / FADE_IN_S)
        if alpha <= 0.0:
            return
        d = size if abs(anim.d - size) < 1 else max(8, int(round(anim.d)))
        look = anim.shown
        if blinkable(look) and not anim.live:
            f = anim.eye_factor(now)
            if f < 1.0:
                blink = (look[0].with_eyes(f), look[1])
                if self.cache.peek(blink[0], blink[1], size) is not None:
                    look = blink
                else:  # never stall a frame for a blink: skip this one, have it ready for the next
                    self._warm.add(blink[0], blink[1], size)
        cur = self._live_variant(anim, look, size, now, build) if anim.live else None
        if cur is None:
            cur = self._variant(look, size, anim.size, build)
        if cur is None:
            return
        if cur.get_width() == size:
            anim.size = size
        bx, by = anim.bob(now, d)
        pos = (int(round(anim.x - d / 2)) + bx, int(round(anim.y - d / 2)) + by)
        t = (now - anim.changed_at) / CROSSFADE_S
        old = None
        if anim.prev is not None and t < 1.0:
            old = self._variant(anim.prev, size, anim.size, build=False)
        else:
            anim.prev = None
        if old is not None:
            self._put(self._scaled(old, d), pos, alpha)
            self._put(self._scaled(cur, d), pos, alpha * ease(t))
        else:
            self._put(self._scaled(cur, d), pos, alpha)

    @staticmethod
    def _scaled(surf: pygame.Surface, d: int) -> pygame.Surface:
        """Only for the ~250 ms a face glides to a new size: a plain scale costs 0.4 ms where a
        smoothscale costs 5 (x4 faces), and its jaggies do not show on a moving, resizing face."""
        return surf if surf.get_width() == d else pygame.transform.scale(surf, (d, d))

    # ---------------------------------------------------------------------------------------- screens

    def _text_block(self, text: str, cy: float, px: int, colour: tuple[int, int, int], alpha: float,
                    max_w: float) -> float:
        """Centred wrapped text with its top at cy; returns the y below it."""
        lines, px = self._text.wrap(text, px, max_w)
        W = self.size[0]
        y = cy
        for ln in lines:
            surf = self._text.line(ln, px, colour)
            _blit_alpha(self._screen, surf, (int(W / 2 - surf.get_width() / 2), int(y)), alpha)
            y += surf.get_height() * 1.05
        return y

    def _hero_layout(self, scale: float) -> tuple[float, float, float, int]:
        """(face centre x, centre y, diameter, text px) for a single big face above a text block."""
        W, H = self.size
        short = min(W, H)
        if H > W:  # portrait: the face can be large, text below it
            d = min(W * 0.72, H * 0.45) * scale
        else:
            d = min(H * 0.5, W * 0.42) * scale
        px = max(16, int(short * 0.06))
        text_h = px * 3.4
        top = (H - (d + text_h + short * 0.05)) / 2
        return W / 2, top + d / 2, d, px

    def _draw_attract(self, now: float, alpha: float) -> None:
        cx, cy, d, px = self._hero_layout(1.0)
        step = int(now // ATTRACT_STEP_S)
        state = ATTRACT_SHOWCASE[step % len(ATTRACT_SHOWCASE)]
        params, style = expression_params(state.expression), Style.from_state(state)
        if self._attract is None:
            self._attract = Anim(-1, (params, style), seed=4242)
        anim = self._attract
        anim.want = (params, style)
        anim.set_target(layout.Slot(cx, cy, d), fresh=True)
        self._draw_anim(anim, now, alpha)
        # gently pulsing invitation under the face
        pulse = 0.82 + 0.18 * math.sin(2 * math.pi * now / 2.4)
        W = self.size[0]
        y = self._text_block(self.look.title, cy + d / 2 + min(self.size) * 0.06, px, TEXT, alpha * pulse, W * 0.9)
        self._text_block(self.look.hint, y + px * 0.3, int(px * 0.55), TEXT_DIM, alpha, W * 0.9)
        nxt = ATTRACT_SHOWCASE[(step + 1) % len(ATTRACT_SHOWCASE)]
        self._warm.add(expression_params(nxt.expression), Style.from_state(nxt), size_key(d))

    def _draw_message(self, message: str, now: float, alpha: float) -> None:
        W, H = self.size
        short = min(W, H)
        d = short * 0.32
        px = max(16, int(short * 0.055))
        cy = H * 0.4
        # a neutral face looking around: "searching"
        gaze = (-0.8, 0.0, 0.8, 0.0)[int(now / 0.9) % 4]
        params = dataclasses.replace(expression_params("neutral"), gaze_x=gaze)
        style = Style("yellow")
        if self._message is None:
            self._message = Anim(-2, (params, style), seed=99)
        anim = self._message
        anim.want = (params, style)
        anim.set_target(layout.Slot(W / 2, cy - d * 0.1, d), fresh=True)
        self._draw_anim(anim, now, alpha)
        y = self._text_block(message, cy + d / 2 + short * 0.04, px, TEXT, alpha, W * 0.88)
        # three dots breathing in turn: the screen is alive, something is being retried
        r = max(3, int(px * 0.2))
        for i in range(3):
            a = 0.35 + 0.65 * max(0.0, math.sin(2 * math.pi * (now / 1.2 - i / 6)))
            colour = tuple(int(c * a * alpha + b * (1 - a * alpha)) for c, b in zip(TEXT_DIM, self.look.top))
            pygame.draw.circle(self._screen, colour, (int(W / 2 + (i - 1) * r * 4), int(y + r * 3)), r)

    def _draw_overlay(self, lines: list[str]) -> None:
        W, H = self.size
        px = max(12, int(min(W, H) * 0.024))
        surfs = [self._text.line(ln, px, (235, 255, 235), mono=True) for ln in lines[:16]]
        pad = px // 2
        w = max(s.get_width() for s in surfs) + 2 * pad
        h = sum(s.get_height() for s in surfs) + 2 * pad
        box = pygame.Surface((w, h), pygame.SRCALPHA)
        box.fill((0, 0, 0, 150))
        self._put(box, (pad, pad))  # the lines below lie inside it
        y = 2 * pad
        for s in surfs:
            self._screen.blit(s, (2 * pad, y))
            y += s.get_height()
