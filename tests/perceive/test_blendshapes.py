"""The 52 blendshapes on the demo portraits (near rest, but the astronaut smiles) and on a portrait whose
mouth is warped open (jawOpen must rise): the model reads real faces through our mesh and crop."""
from __future__ import annotations

import numpy as np
import pytest

from edge.perceive.blendshapes import NAMES, SUBSET, Blendshapes
from edge.perceive.landmarks import FaceMesh
from fakes import open_mouth  # noqa: F401,E402


@pytest.fixture(scope="module")
def reader():
    mesh, shapes = FaceMesh(points="478"), Blendshapes()

    def read(image, detector):
        face = detector.detect(image)[0]
        lm = mesh(image, face)
        assert lm is not None
        return lm.points, shapes(lm.points)
    return read


def test_every_output_has_a_name_and_the_subset_is_mediapipes():
    assert len(NAMES) == 52 and len(set(NAMES)) == 52 and NAMES[0] == "_neutral"
    assert len(SUBSET) == 146 and list(SUBSET) == sorted(set(SUBSET)) and SUBSET[-1] == 477


def test_the_portraits_are_near_rest_and_the_astronaut_smiles(reader, portraits, detector):
    _, hopper = reader(portraits["grace_hopper.jpg"], detector)
    _, astronaut = reader(portraits["astronaut.png"], detector)
    for s in (hopper, astronaut):
        assert s["jawOpen"] < 0.15 and max(s["eyeBlinkLeft"], s["eyeBlinkRight"]) < 0.3
        assert max(s["mouthPucker"], s["mouthFunnel"]) < 0.3 and s["cheekPuff"] < 0.5  # cheeks: their width
    assert max(hopper["mouthSmileLeft"], hopper["mouthSmileRight"]) < 0.3
    assert min(astronaut["mouthSmileLeft"], astronaut["mouthSmileRight"]) > 0.6


def test_a_mouth_warped_open_raises_jaw_open(reader, portraits, detector):
    image = portraits["grace_hopper.jpg"]
    points, rest = reader(image, detector)
    gap = np.linalg.norm(points[33, :2] - points[263, :2])  # eye-corner distance: the face's own scale
    _, opened = reader(open_mouth(image, points, 0.45 * gap), detector)
    assert opened["jawOpen"] > rest["jawOpen"] + 0.2, (rest["jawOpen"], opened["jawOpen"])


def test_the_short_mesh_is_refused():
    with pytest.raises(ValueError, match="478"):
        Blendshapes().scores(np.zeros((468, 3)))


def test_a_persons_resting_squint_reads_as_rest_but_a_held_smile_still_shows():
    from edge.perceive.blendshapes import ShapeTrack

    track = ShapeTrack()
    i_squint, i_smile = NAMES.index("eyeSquintLeft"), NAMES.index("mouthSmileLeft")
    rest = np.zeros(len(NAMES))
    rest[i_squint] = 0.3  # this person squints a little at rest
    t = 0.0
    for _ in range(40):
        track.update(rest, t)
        t += 0.1
    assert track.shapes["eyeSquintLeft"] < 0.05
    smiling = rest.copy()
    smiling[i_smile] = 0.9
    for _ in range(150):  # a smile held for 15 s
        track.update(smiling, t)
        t += 0.1
    assert track.shapes["mouthSmileLeft"] > 0.7
    blink = smiling.copy()
    blink[NAMES.index("eyeBlinkLeft")] = 0.9
    track.update(blink, t)
    track.update(blink, t + 0.033)
    assert track.shapes["eyeBlinkLeft"] > 0.5  # a blink passes the filter within two frames


def test_the_demo_acts_out_what_blendshape_motion_follows(reader, detector):
    """The demo's acting segment (edge/sources/acting.py), read through our mesh and the blendshapes."""
    from edge.config import SourceConfig
    from edge.sources.acting import SCRIPT, WINK
    from edge.sources.demo import TIMELINE, DemoSource

    src = DemoSource(SourceConfig())
    start = sum(round(s.seconds * src.fps) for s in TIMELINE[:-1])

    def at(seconds: float) -> dict[str, float]:
        return reader(src.frame_at(start + round(seconds * src.fps)), detector)[1]

    rest = at(0.05)
    middle = {name: at(t0 + dur / 2) for t0, dur, name in SCRIPT}
    assert middle["brow_up"]["browOuterUpLeft"] > rest["browOuterUpLeft"] + 0.25
    from edge.perceive.motion import measure, to_motion

    brow_frame = src.frame_at(start + round((SCRIPT[0][0] + SCRIPT[0][1] / 2) * src.fps))
    eyes = to_motion(measure(reader(brow_frame, detector)[0], brow_frame))
    assert SCRIPT[0][2] == "brow_up" and eyes.eye_open_left > 0.8  # the brow lifts, the eye stays open
    assert middle["pucker"]["mouthPucker"] > 0.8
    assert middle["puff"]["cheekPuff"] > rest["cheekPuff"] + 0.3
    smile = middle["half_smile"]
    assert smile["mouthSmileRight"] > smile["mouthSmileLeft"] + 0.1 > rest["mouthSmileRight"] + 0.1
    wink = at(WINK[0] + WINK[1] / 2)
    assert wink["eyeBlinkRight"] > wink["eyeBlinkLeft"]
