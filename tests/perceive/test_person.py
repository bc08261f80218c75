"""One record per person (edge/perceive/person.py): what every stage of the perceiving half remembers of
somebody is in their record, made when the tracker first follows them and forgotten, all of it at once,
when the tracker drops them."""
from __future__ import annotations

import numpy as np
import pytest

from edge import build
from edge.config import Config
from edge.perceive.person import NO_CALIB, People
from edge.sources.demo import DemoSource


def _config() -> Config:
    cfg = Config()
    cfg.motion.mode, cfg.motion.turns_when_busy = "on", False
    return cfg


@pytest.fixture(scope="module")
def half():
    return build.local_perceiver(_config(), 1)


def test_people_are_remembered_while_the_tracker_follows_them_and_forgotten_with_their_track(half):
    """The demo: the astronaut alone, then (frame 150) Grace Hopper where he stood; later both, then
    (frame 390) nobody. On every frame the records are the tracker's tracks and the faces shown, one
    record per person for as long as they are followed; the astronaut's record held what each stage
    remembers of him, and it is gone on the frame his track is."""
    perception, source = half.perception, DemoSource(Config().source)
    records, last_of = {}, {}
    for i in [*range(130, 160), *range(380, 395)]:
        out = half(source.frame_at(i), i / 30, 20.0)
        ids = {t.track_id for t in perception.tracker.tracks}
        assert set(perception.people) == ids == {v.track_id for v in out.views}, i
        for pid in ids:
            assert records.setdefault(pid, perception.people[pid]) is perception.people[pid], (i, pid)
            last_of[pid] = i
    astronaut = records[min(records)]
    assert last_of[astronaut.id] == 149 and astronaut.id not in perception.people
    assert astronaut.calib != NO_CALIB and astronaut.thumb is not None  # the tracker's part
    assert set(astronaut.ran_at) == {"expression", "attributes"}  # the models' schedule
    assert astronaut.last_shapes is not None  # the fusion's (he had the 478-point mesh)
    s = astronaut.smoothed  # the smoother's: heads, live signals and blendshapes
    assert "expression" in s.labels and s.motion is not None and s.shapes is not None
    assert len(perception.people) == 0 and last_of and max(last_of.values()) == 389  # nobody from frame 390


class _LosesOnce:
    """The face mesh, which finds no face on its first call once armed (a hand over the face for a moment)."""

    def __init__(self, mesh):
        self.mesh, self.armed = mesh, False

    def __call__(self, frame, face):
        if self.armed:
            self.armed = False
            return None
        return self.mesh(frame, face)


def test_a_face_the_mesh_loses_for_a_moment_keeps_its_record(portraits):
    """The mesh loses the face for a frame and the detector, run at once, finds it where it was lost: the
    same person, with the same record (the models do not run again as for a new face)."""
    perception = build.perception(_config())
    image = portraits["astronaut.png"]
    for i in range(8):
        (p,) = perception.live(image, i / 30)
    person, ran = perception.people[p.track_id], dict(perception.people[p.track_id].ran_at)
    tracker = perception.tracker
    tracker.mesh, tracker.fine = _LosesOnce(tracker.mesh), _LosesOnce(tracker.fine)
    tracker.mesh.armed = tracker.fine.armed = True
    detections = tracker.detections
    (again,) = perception.live(image, 8 / 30)
    assert tracker.detections == detections + 1 and not tracker.fine.armed  # lost, and looked for at once
    assert again.track_id == p.track_id and perception.people[p.track_id] is person
    assert person.ran_at["attributes"] == ran["attributes"] and "attributes" not in _models(again)


def test_a_person_found_after_the_tracker_dropped_them_starts_afresh(portraits):
    """Gone for a frame (the mesh and the detector find nobody): forgotten by every stage; found again,
    a new person, whose every model runs at once."""
    perception = build.perception(_config())
    image = portraits["astronaut.png"]
    first = [perception.live(image, i / 30)[0] for i in range(4)]
    old = perception.people[first[0].track_id]
    assert perception.live(np.full_like(image, 120), 4 / 30) == [] and len(perception.people) == 0
    (found,) = perception.live(image, 5 / 30)
    assert found.track_id != old.id and old.id not in perception.people
    assert perception.people[found.track_id] is not old
    assert _models(found) == _models(first[0]) == {"expression", "attributes"}
    assert set(perception.people) == {found.track_id}


def test_the_records_are_made_on_first_use_and_kept_only_for_the_ids_given():
    people = People()
    a, b = people[3], people[5]
    assert people[3] is a and set(people) == {3, 5} and a.ran_at == {} and a.calib == NO_CALIB
    people.keep([5, 9])
    assert set(people) == {5} and people[5] is b and 3 not in people and people[3] is not a


def _models(p) -> set[str]:
    """Which models ran on a face this frame, from the heads it carries."""
    return {"expression" if head == "expression" else "attributes" for head in p.probs}
