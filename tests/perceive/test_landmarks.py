"""The face mesh on real portraits: points land on the face, and nothing is invented where none is."""
from __future__ import annotations

import numpy as np
import pytest

from edge.perceive.landmarks import FaceMesh
from edge.perceive.motion import LEFT_EYE, RIGHT_EYE
from edge.state import Face
from conftest import PORTRAIT_FACES
from fakes import face_from_truth  # noqa: F401,E402


@pytest.fixture(scope="module", params=["468", "478"])
def mesh(request) -> FaceMesh:
    return FaceMesh(threads=1, points=request.param)


@pytest.mark.parametrize("name", sorted(PORTRAIT_FACES))
def test_mesh_eyes_land_on_the_portraits_eyes(mesh, portraits, name):
    lm = mesh(portraits[name], face_from_truth(name))
    assert lm is not None and lm.score > 0.9
    assert lm.points.shape == (mesh.points, 3) and np.isfinite(lm.points).all()
    size = PORTRAIT_FACES[name]["box"][2]
    for idx, truth in zip((RIGHT_EYE, LEFT_EYE), PORTRAIT_FACES[name]["eyes"]):
        centre = lm.points[list(idx), :2].mean(0)
        assert np.linalg.norm(centre - truth) < 0.08 * size, (name, centre, truth)


def test_no_mesh_on_an_empty_wall(mesh):
    wall = np.full((480, 640, 3), 120, np.uint8)
    face = Face(np.array([200, 150, 150, 150], np.float32), 0.9,
                np.array([[240, 200], [310, 200], [275, 240], [275, 270], [210, 210], [340, 210]], np.float32))
    assert mesh(wall, face) is None


def test_points_follow_the_face_in_frame_coordinates(mesh, portraits):
    """The same face moved 40 px right gives the same mesh moved 40 px right."""
    img = portraits["grace_hopper.jpg"]
    moved = np.zeros_like(img)
    moved[:, 40:] = img[:, :-40]
    a = mesh(img, face_from_truth("grace_hopper.jpg"))
    b = mesh(moved, face_from_truth("grace_hopper.jpg", dx=40))
    shift = np.median(b.points[:, :2] - a.points[:, :2], axis=0)
    assert abs(shift[0] - 40) < 2 and abs(shift[1]) < 2
