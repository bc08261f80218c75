"""One record per person: what every stage of the perceiving half remembers of somebody in front of the mirror.

Each stage used to keep its own table by track id, each with its own rule for forgetting (the tracker's
tracks, the models' last runs, the last blendshapes, the smoother's tracks with their own matching by
overlap), so a person could be gone from one stage and still remembered by another. Here a person is one
record, keyed by the tracker's id, made when the tracker first follows a face and forgotten, by every stage
at once, when the tracker drops it (`People.keep`). The stages keep their logic; the record keeps only
their state. Nothing of it crosses to the presenting half: the renderer's animations and the visitor
counts key on the same id, as it reaches them in each `FaceView`.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the filters are made by the smoother (edge/perceive/smooth.py); the record only holds them
    from edge.perceive.blendshapes import ShapeTrack
    from edge.perceive.motion import MotionTrack

NO_CALIB = (1.0, 0.0, 0.0, 0.0)  # scale, dx, dy, turn: the mesh-made face as it is (edge/perceive/track.py calibrate)


@dataclass
class Smoothed:
    """The smoother's part (edge/perceive/smooth.py): each head's smoothed probabilities, the label shown and
    when the head last ran on this face; the live signals' and the blendshapes' filters and when they last
    had a mesh. One part, so that a smoothing that may not continue starts afresh in one assignment."""

    at: float = -math.inf  # the frame it was last smoothed on
    probs: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    updated_at: dict[str, float] = field(default_factory=dict)
    motion: MotionTrack | None = None  # made at the first measurement: baseline + filters
    motion_at: float = -math.inf
    shapes: ShapeTrack | None = None  # the 52 blendshapes, where this face has the 478-point mesh
    shapes_at: float = -math.inf


@dataclass(eq=False)
class Person:
    """Everything the perceiving half remembers of one person, under the tracker's id."""

    id: int
    # the tracker (edge/perceive/track.py): how this person's detector box sits on their mesh box, and the
    # face's thumbnail, which tells a cut to somebody else at the same place
    calib: tuple[float, float, float, float] = NO_CALIB
    thumb: np.ndarray | None = None
    fine_mesh: bool = False  # their last mesh was the 478-point one (it sticks to a face: FINE_STICKY)
    # without the mesh (edge/perceive/track.py BoxTracker): the last box and when it was seen
    box: np.ndarray | None = None
    seen_at: float = -math.inf
    # the models' schedule (edge/perceive/perception.py due): model -> when it last ran on this face
    ran_at: dict[str, float] = field(default_factory=dict)
    # the fusion: the blendshapes of this face's last frame, for a frame between two of its meshes
    last_shapes: np.ndarray | None = None
    smoothed: Smoothed = field(default_factory=Smoothed)


class People:
    """The records by id. `people[i]` is person i's record, made on first use; `keep` is the one rule that
    forgets: the tracker calls it with the ids it still follows, after every frame it has seen."""

    def __init__(self) -> None:
        self._by_id: dict[int, Person] = {}

    def __getitem__(self, person_id: int) -> Person:
        person = self._by_id.get(person_id)
        if person is None:
            person = self._by_id[person_id] = Person(person_id)
        return person

    def keep(self, ids: Iterable[int]) -> None:
        alive = set(ids)
        self._by_id = {i: p for i, p in self._by_id.items() if i in alive}

    def __contains__(self, person_id: object) -> bool:
        return person_id in self._by_id

    def __iter__(self) -> Iterator[int]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)
