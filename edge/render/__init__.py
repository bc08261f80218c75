"""Emoticon drawing and the live screen.

Public API: `Renderer(size, pip=False).render(scene, now) -> pygame.Surface` and
`draw_emoticon(state, size_px) -> pygame.Surface`; everything else in this package is internal.
"""
from edge.render.emoticon import draw_emoticon
from edge.render.renderer import Renderer

__all__ = ["Renderer", "draw_emoticon"]
