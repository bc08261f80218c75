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


def test_a_picture_too_thin_for_a_face_is_no_face_and_the_batch_goes_on(tmp_path):
    """A 1x1, 1x500 or 500x1 image gave a ZeroDivisionError that ended the whole batch."""
    import cv2
    import numpy as np

    from edge import build
    from edge.commands.analyze import Analyzer, expand
    from edge.config import Config

    for name, shape in (("a.png", (1, 1, 3)), ("b.png", (1, 500, 3)), ("c.png", (500, 1, 3))):
        cv2.imwrite(str(tmp_path / name), np.full(shape, 128, np.uint8))
    cv2.imwrite(str(tmp_path / "d.png"), cv2.imread(str(DEMO / "astronaut.png")))
    analyzer = Analyzer(build.perception(Config(), still=True))
    results = [analyzer.analyze_path(p) for p in expand([str(tmp_path)])]
    assert [r["faces"] for r in results[:3]] == [[], [], []] and all(r["detected_by"] == "none" for r in results[:3])
    assert len(results[3]["faces"]) == 1


def test_an_unreadable_file_is_one_error_and_the_others_are_analysed(tmp_path, monkeypatch):
    """A file with mode 000 (root reads it anyway, so the refusal is made here) ended the whole run
    with `[Errno 13]`; a FIFO was "no such image file"."""
    import os
    import shutil

    import numpy as np

    from edge import build
    from edge.commands.analyze import Analyzer, expand
    from edge.config import Config

    shutil.copy(DEMO / "astronaut.png", tmp_path / "a.png")
    shutil.copy(DEMO / "grace_hopper.jpg", tmp_path / "b.jpg")
    os.mkfifo(tmp_path / "c.png")
    fromfile = np.fromfile

    def refuse(path, *args, **kwargs):
        if str(path).endswith("a.png"):
            raise PermissionError(13, "Permission denied")
        return fromfile(path, *args, **kwargs)

    monkeypatch.setattr(np, "fromfile", refuse)
    analyzer = Analyzer(build.perception(Config(), still=True))
    results = {os.path.basename(r["image"]): r for r in map(analyzer.analyze_path, expand([str(tmp_path / "a.png"),
                                                                                          str(tmp_path / "b.jpg"),
                                                                                          str(tmp_path / "c.png")]))}
    assert results["a.png"]["error"] == "cannot read (Permission denied)"
    assert results["c.png"]["error"].startswith("not a regular file")
    assert len(results["b.jpg"]["faces"]) == 1
