"""Tracking between detections: the mesh-made box is BlazeFace's box, and on the demo loop the tracker
finds what per-frame detection finds while running the detector on a fraction of the frames."""
from __future__ import annotations

import numpy as np
import pytest

from edge.config import SourceConfig
from edge.detect import BlazeFaceDetector
from edge.landmarks import FaceMesh
from edge.sources.demo import DemoSource
from edge.state import box_iou
from edge.track import FaceTracker, face_from_mesh
from tests.conftest import box_close


@pytest.fixture(scope="module")
def mesh() -> FaceMesh:
    return FaceMesh(threads=1)


@pytest.mark.parametrize("name", ["astronaut.png", "grace_hopper.jpg"])
def test_a_box_made_from_the_mesh_is_the_detectors_box(mesh, portraits, detector, name):
    image = portraits[name]
    face = detector.detect(image)[0]
    made = face_from_mesh(mesh(image, face).points, 0.9)
    assert box_close(made.box, face.box, tol=0.08), (made.box, face.box)
    size = face.box[2]
    assert np.abs(made.keypoints[:4] - face.keypoints[:4]).max() < 0.12 * size


def test_the_tracker_finds_what_detection_finds_on_a_fraction_of_the_frames(mesh, detector):
    src = DemoSource(SourceConfig())
    tracker = FaceTracker(detector.detect, mesh, detect_every=6)
    agree = 0
    for i in range(src.loop_frames):
        frame = src.frame_at(i)
        tracked, truth = tracker.update(frame), detector.detect(frame)
        agree += len(tracked) == len(truth) and all(
            max(box_iou(t.face.box, f.box) for t in tracked) > 0.5 for f in truth)
    assert agree >= 0.97 * src.loop_frames
    assert tracker.detections <= 0.25 * tracker.frames


def test_a_lost_face_is_looked_for_again_at_once(mesh, detector, portraits):
    tracker = FaceTracker(detector.detect, mesh, detect_every=100)
    image = portraits["astronaut.png"]
    assert len(tracker.update(image)) == 1 and tracker.detections == 1
    assert len(tracker.update(image)) == 1 and tracker.detections == 1  # tracked, not detected
    assert tracker.update(np.full_like(image, 120)) == []  # gone: the mesh finds no face
    tracker.update(image)
    assert tracker.detections == 2  # detected at once, not after 100 frames
