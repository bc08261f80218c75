"""What the booth puts over the live screen: the 3-2-1 digit, the flash, one line of news
("Saved - No. 12", or why a card was not saved or printed) and the QR codes that take a snapshot home.

Drawn on top of the renderer's finished frame, so the renderer stays about emoticons.
"""
from __future__ import annotations

import pygame

from edge.render.text import TextCache

OK_BG = (24, 120, 72)
BAD_BG = (150, 46, 46)
TEXT = (255, 255, 255)
PANEL_TEXT = (24, 24, 40)


class BoothOverlay:
    def __init__(self, text: TextCache):
        self._text = text

    def countdown(self, screen: pygame.Surface, digit: int, phase: float) -> None:
        """A big digit in a ring that empties over the second, in the top-right corner: the people
        watch their emoticons while counting, so the digit must not cover them."""
        W, H = screen.get_size()
        short = min(W, H)
        r = int(short * 0.13)
        cx, cy = W - r - int(short * 0.04), r + int(short * 0.04)
        disc = pygame.Surface((2 * r + 4, 2 * r + 4), pygame.SRCALPHA)
        pygame.draw.circle(disc, (0, 0, 0, 130), (r + 2, r + 2), r)
        screen.blit(disc, (cx - r - 2, cy - r - 2))
        rect = pygame.Rect(cx - r, cy - r, 2 * r, 2 * r)
        end = 3.14159 / 2
        pygame.draw.arc(screen, TEXT, rect, end, end + 2 * 3.14159 * (1.0 - phase), max(3, r // 12))
        s = self._text.line(str(digit), int(r * 1.3), TEXT)
        screen.blit(s, (cx - s.get_width() // 2, cy - s.get_height() // 2))

    def flash(self, screen: pygame.Surface, strength: float) -> None:
        """White over the frame at the moment of the picture, fading (strength 1 .. 0)."""
        if strength <= 0:
            return
        veil = pygame.Surface(screen.get_size())
        veil.fill((255, 255, 255))
        veil.set_alpha(int(255 * min(1.0, strength)))
        screen.blit(veil, (0, 0))

    def banner(self, screen: pygame.Surface, line: str, ok: bool) -> None:
        """One line of news at the bottom of the screen."""
        W, H = screen.get_size()
        px = max(14, int(min(W, H) * 0.04))
        lines, px = self._text.wrap(line, px, W * 0.9, max_lines=2)
        surfs = [self._text.line(ln, px, TEXT) for ln in lines]
        pad = px // 2
        h = sum(s.get_height() for s in surfs) + 2 * pad
        w = max(s.get_width() for s in surfs) + 4 * pad
        box = pygame.Surface((w, h), pygame.SRCALPHA)
        box.fill((*(OK_BG if ok else BAD_BG), 225))
        x, y = (W - w) // 2, H - h - int(min(W, H) * 0.04)
        screen.blit(box, (x, y))
        y += pad
        for s in surfs:
            screen.blit(s, ((W - s.get_width()) // 2, y))
            y += s.get_height()

    def qr_panel(self, screen: pygame.Surface, codes: list[tuple[pygame.Surface, str]], where: str) -> None:
        """QR codes side by side on a white card, each with its caption under it: "middle" = at the
        right edge, between the countdown's corner and the line of news; "corner" = bottom right."""
        W, H = screen.get_size()
        short = min(W, H)
        px = max(12, int(short * 0.028))
        pad = max(6, int(short * 0.015))
        captions = [self._text.line(c, px, PANEL_TEXT) for _, c in codes]
        cols = [max(code.get_width(), cap.get_width()) for (code, _), cap in zip(codes, captions)]
        w = sum(cols) + pad * (len(codes) + 1)
        h = max(code.get_height() + cap.get_height() for (code, _), cap in zip(codes, captions)) + 2 * pad
        x = W - w - int(short * 0.03)
        y = (H - h) // 2 if where == "middle" else H - h - int(short * 0.03)
        pygame.draw.rect(screen, (255, 255, 255), (x, y, w, h), border_radius=pad)
        cx = x + pad
        for (code, _), cap, col in zip(codes, captions, cols):
            screen.blit(code, (cx + (col - code.get_width()) // 2, y + pad))
            screen.blit(cap, (cx + (col - cap.get_width()) // 2, y + pad + code.get_height()))
            cx += col + pad
