"""What one face looks like, from its FaceView: the expression's params moved by the person's live
signals and blendshapes, and the style (tone, eyewear, mask).

One function for the live screen and the snapshot card, so the card shows the face exactly as the
screen did at the moment of the picture.
"""
from __future__ import annotations

from dataclasses import replace

from edge.render.style import Appearance, Style
from edge.render.params import expression_params, with_motion
from edge.render.rig import with_blendshapes
from edge.state import FaceView



def face_looks(view: FaceView) -> tuple[Appearance, Appearance]:
    """(without live signals, with them); the same look twice when the face has none."""
    params, style = expression_params(view.state.expression), Style.from_state(view.state)
    base = (params, style)
    if view.motion is None:
        return base, base
    if view.shapes is None:
        return base, (with_motion(params, view.motion), style)
    # blendshapes move the mouth, brows and cheeks; the motion signals keep the head pose and the
    # pixel-checked eye openness (the mesh alone draws open eyes over closed ones)
    pose = replace(view.motion, mouth_open=0.0, mouth_width=0.0, smile=0.0, brow_raise=0.0)
    return base, (with_blendshapes(with_motion(params, pose), view.shapes), style)
