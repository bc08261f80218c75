"""What an emoticon wears and its colour (`Style`), and what one drawing of a face is made of
(`Appearance`: the expression's params with the style): the words the drawing modules share."""
from __future__ import annotations

from dataclasses import dataclass

from edge.render.params import FaceParams
from edge.state import EmoticonState


@dataclass(frozen=True)
class Style:
    """What the emoticon wears and its colour: everything that is not the expression."""

    tone: str = "yellow"
    eyewear: str = "none"
    glasses_shape: str = "round"
    mask: bool = False

    @staticmethod
    def from_state(state: EmoticonState) -> "Style":
        # glasses_shape only matters with glasses; normalising it keeps the cache free of duplicates
        shape = state.glasses_shape if state.eyewear == "glasses" else "round"
        return Style(state.tone, state.eyewear, shape, bool(state.mask))


Appearance = tuple[FaceParams, Style]  # one drawing of one face: a variant in the cache
