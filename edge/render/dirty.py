"""Which parts of the screen a frame drew over the background, so the next one erases only those.

While only faces are on screen, the faces, the overlay and their last places are a fraction of a
1920x1080 screen: copying the background and the frame whole was 1.3 of the 4.8 ms one still face
took to render and present here. Attract and message screens, the camera picture and anything drawn on the frame after
the renderer (the booth's countdown) redraw it all.
"""
from __future__ import annotations

import pygame


def merged(rects: list[pygame.Rect]) -> list[pygame.Rect]:
    """Overlapping rects as their bounding rect (a face's last and new place, a crossfade's two
    blits): each rect is a blit of its own, and the same pixels twice cost twice."""
    out: list[pygame.Rect] = []
    for r in rects:
        r = r.copy()
        hit = r.collidelist(out)
        while hit >= 0:
            r.union_ip(out.pop(hit))
            hit = r.collidelist(out)
        out.append(r)
    return out


class DirtyRects:
    def __init__(self) -> None:
        self._last: list[pygame.Rect] | None = None  # what the last frame drew; None: unknown, redraw all
        self._restored: list[pygame.Rect] | None = None
        self._drawn: list[pygame.Rect] = []
        self.changed: list[pygame.Rect] | None = None  # the parts this frame changed; None: all of it

    def begin(self, screen: pygame.Surface, background: pygame.Surface, partial: bool) -> None:
        """Erase the last frame: where it drew, if `partial` and that is known, else everywhere."""
        self._restored = self._last if partial else None
        if self._restored is None:
            screen.blit(background, (0, 0))
        for r in self._restored or ():
            screen.blit(background, r, r)
        self._drawn = []

    def add(self, screen: pygame.Surface, pos: tuple[int, int], size: tuple[int, int]) -> None:
        self._drawn.append(pygame.Rect(pos, size).clip(screen.get_rect()))

    def end(self, partial: bool) -> None:
        """partial: the next frame may erase just this frame's drawing (nothing else drew)."""
        self._last = merged(self._drawn) if partial else None
        self.changed = None if self._restored is None or self._last is None else merged(self._restored + self._last)

    def invalidate(self) -> None:
        self._last = None
