"""analyze: still photos through the one perception pass, as JSON-ready answers."""
from __future__ import annotations

from conftest import DEMO


def test_the_largest_face_carries_its_named_blendshapes_as_live():
    """The 478-point mesh and the blendshape model read a photo's largest face (motion.blendshapes = 1)
    as they read it live: 52 named scores in [0, 1]; the astronaut smiles, and both her mouth corners
    say so; the photo's expression is not fused with them (it stays what the classifier says)."""
    from edge import build
    from edge.commands.analyze import Analyzer
    from edge.config import Config
    from edge.perceive.blendshapes import NAMES

    analyzer = Analyzer(build.perception(Config(), still=True))
    for name in ("astronaut.png", "grace_hopper.jpg"):
        faces = analyzer.analyze_path(DEMO / name)["faces"]
        shapes = faces[0]["blendshapes"]
        assert list(shapes) == list(NAMES) and len(shapes) >= 50
        assert all(0.0 <= v <= 1.0 for v in shapes.values())
        assert all("blendshapes" not in f for f in faces[1:])
    astronaut = analyzer.analyze_path(DEMO / "astronaut.png")["faces"][0]["blendshapes"]
    assert min(astronaut["mouthSmileLeft"], astronaut["mouthSmileRight"]) > 0.5 > astronaut["mouthFrownLeft"]
