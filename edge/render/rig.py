"""The emoticon's rig for blendshapes: MediaPipe's 52 ARKit-named scores -> FaceParams offsets.

The expression still sets the base look (a smile stays a smile); the blendshapes move the parts on top
of it, each side on its own, continuously. Scores come in read against the person's rest face (0 = as
at rest, 1 = fully on; see edge/perceive/motion.py), so a resting squint or a resting smile is not drawn. Sides:
ARKit's "Left" is the person's own left, which the mirror draws on the viewer's left (`_l` fields).

Every output is either mapped to a named part (RIG) or listed as unused with the reason (UNUSED).
"""
from __future__ import annotations

import dataclasses

from edge.render.params import FaceParams

# blendshape -> the rig part it moves (documentation and the completeness test read this)
RIG = {
    "browDownLeft": "brow_l (down)", "browDownRight": "brow_r (down)",
    "browInnerUp": "brow_tilt (inner ends up) + brow_raise",
    "browOuterUpLeft": "brow_outer_l", "browOuterUpRight": "brow_outer_r",
    "cheekPuff": "cheek_puff",
    "cheekSquintLeft": "squint_l (cheek raise lifts the lower lid)", "cheekSquintRight": "squint_r",
    "eyeBlinkLeft": "eye_open_l (closes)", "eyeBlinkRight": "eye_open_r (closes)",
    "eyeLookDownLeft": "gaze_y", "eyeLookDownRight": "gaze_y", "eyeLookUpLeft": "gaze_y", "eyeLookUpRight": "gaze_y",
    "eyeLookInLeft": "gaze_x", "eyeLookInRight": "gaze_x", "eyeLookOutLeft": "gaze_x", "eyeLookOutRight": "gaze_x",
    "eyeSquintLeft": "squint_l", "eyeSquintRight": "squint_r",
    "eyeWideLeft": "eye_open_l (wider)", "eyeWideRight": "eye_open_r (wider)",
    "jawLeft": "mouth_shift", "jawRight": "mouth_shift", "jawOpen": "mouth_open",
    "mouthClose": "mouth_open (lips closed over an open jaw)",
    "mouthDimpleLeft": "mouth_width", "mouthDimpleRight": "mouth_width",
    "mouthFrownLeft": "mouth_curve + mouth_tilt (left corner down)",
    "mouthFrownRight": "mouth_curve + mouth_tilt (right corner down)",
    "mouthFunnel": "mouth_open + mouth_width (a round O)",
    "mouthLeft": "mouth_shift", "mouthRight": "mouth_shift",
    "mouthLowerDownLeft": "mouth_open", "mouthLowerDownRight": "mouth_open",
    "mouthPressLeft": "mouth_weight (pressed lips)", "mouthPressRight": "mouth_weight (pressed lips)",
    "mouthPucker": "mouth_pucker",
    "mouthRollLower": "mouth_weight (lips rolled in: thinner)", "mouthRollUpper": "mouth_weight (lips rolled in)",
    "mouthShrugLower": "mouth_curve (chin up: a pout)", "mouthShrugUpper": "mouth_upper",
    "mouthSmileLeft": "mouth_curve + mouth_tilt (left corner up)",
    "mouthSmileRight": "mouth_curve + mouth_tilt (right corner up)",
    "mouthStretchLeft": "mouth_width + mouth_square", "mouthStretchRight": "mouth_width + mouth_square",
    "mouthUpperUpLeft": "mouth_upper + mouth_side (a one-sided snarl)",
    "mouthUpperUpRight": "mouth_upper + mouth_side",
    "noseSneerLeft": "nose_wrinkle", "noseSneerRight": "nose_wrinkle",
}
UNUSED = {
    "_neutral": "MediaPipe documents it as the model's own rest score, to be ignored",
    "jawForward": "the emoticon is drawn face-on: a jaw pushed toward the camera has no visible change",
}


def _c(v: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return lo if v < lo else hi if v > hi else v


def with_blendshapes(p: FaceParams, b: dict[str, float]) -> FaceParams:
    """The expression's params moved by one person's blendshapes (missing names count as at rest)."""
    g = lambda name: _c(b.get(name, 0.0))  # noqa: E731 - a one-line reader keeps the table readable
    smile_l, smile_r = g("mouthSmileLeft"), g("mouthSmileRight")
    frown_l, frown_r = g("mouthFrownLeft"), g("mouthFrownRight")
    funnel, pucker = g("mouthFunnel"), g("mouthPucker")
    stretch = (g("mouthStretchLeft") + g("mouthStretchRight")) / 2
    jaw = max(g("jawOpen"), 0.6 * (g("mouthLowerDownLeft") + g("mouthLowerDownRight")) / 2)
    opened = max(0.5 * p.mouth_open, 1.1 * jaw * (1 - g("mouthClose")), 0.55 * funnel)

    def eye(blink: float, wide: float, base: float) -> float:
        return base * _c(1 - 1.5 * max(0.0, blink - 0.1), 0.0, 1.0) * (1 + 0.3 * wide)

    curve = p.mouth_curve + 0.7 * (smile_l + smile_r) / 2 - 0.7 * (frown_l + frown_r) / 2 \
        - 0.3 * g("mouthShrugLower")
    return dataclasses.replace(
        p,
        eye_open_l=eye(g("eyeBlinkLeft"), g("eyeWideLeft"), p.eye_open_l),
        eye_open_r=eye(g("eyeBlinkRight"), g("eyeWideRight"), p.eye_open_r),
        squint_l=_c(0.6 * g("eyeSquintLeft") + 0.3 * g("cheekSquintLeft")),
        squint_r=_c(0.6 * g("eyeSquintRight") + 0.3 * g("cheekSquintRight")),
        gaze_x=_c(p.gaze_x + 0.8 * (g("eyeLookOutRight") + g("eyeLookInLeft") - g("eyeLookOutLeft")
                                    - g("eyeLookInRight")) / 2, -1, 1),
        gaze_y=_c(p.gaze_y + 0.8 * (g("eyeLookDownLeft") + g("eyeLookDownRight") - g("eyeLookUpLeft")
                                    - g("eyeLookUpRight")) / 2, -1, 1),
        brow_l=-g("browDownLeft"), brow_r=-g("browDownRight"),
        brow_outer_l=_c(1.5 * g("browOuterUpLeft")), brow_outer_r=_c(1.5 * g("browOuterUpRight")),
        brow_tilt=p.brow_tilt + 1.0 * g("browInnerUp"),
        brow_raise=_c(p.brow_raise + 0.3 * g("browInnerUp"), -1, 1),
        mouth_open=_c(opened),
        mouth_curve=_c(curve, -1, 1),
        mouth_tilt=_c(p.mouth_tilt + 2.2 * ((smile_r - smile_l) - (frown_r - frown_l)), -1.5, 1.5),
        mouth_width=p.mouth_width * (1 + 0.3 * stretch + 0.1 * (g("mouthDimpleLeft") + g("mouthDimpleRight")))
        * (1 - 0.45 * funnel),
        mouth_square=_c(p.mouth_square + 0.6 * stretch) * (1 - funnel),
        mouth_weight=p.mouth_weight * (1 + 0.6 * (g("mouthPressLeft") + g("mouthPressRight")) / 2)
        * (1 - 0.35 * (g("mouthRollLower") + g("mouthRollUpper")) / 2),
        mouth_upper=_c(p.mouth_upper + 0.5 * max(g("mouthUpperUpLeft"), g("mouthUpperUpRight"))
                       + 0.2 * g("mouthShrugUpper")),
        mouth_side=_c(p.mouth_side + g("mouthUpperUpRight") - g("mouthUpperUpLeft"), -1, 1),
        mouth_shift=_c(g("mouthRight") - g("mouthLeft") + 0.5 * (g("jawRight") - g("jawLeft")), -1, 1),
        mouth_pucker=pucker,
        cheek_puff=g("cheekPuff"),
        nose_wrinkle=max(p.nose_wrinkle, _c(1.2 * (g("noseSneerLeft") + g("noseSneerRight")) / 2)),
    )
