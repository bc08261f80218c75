"""Track faces between detections, as MediaPipe's face pipelines do: this frame's mesh is next frame's crop.

Running BlazeFace on every frame costs as much as a face's mesh, finds a face a little differently each
time (the crops jitter), and loses far faces the mesh still follows. So the detector runs on a schedule
(and at once when a tracked face is lost or the scene has no face yet); in between, each tracked face's
mesh on this frame gives its box and keypoints, in BlazeFace's own convention so that every crop rule and
model sees what it was made for, and the region the mesh reads on the next frame.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import cv2
import numpy as np

from edge.perceive.crop import roll_degrees
from edge.perceive.landmarks import FaceMesh, Landmarks
from edge.perceive.motion import CHEEKS, LEFT_EYE, LIP_INNER, RIGHT_EYE
from edge.perceive.person import NO_CALIB, People, Person
from edge.state import Face, box_iou

# BlazeFace's box and keypoints from the mesh, measured on the demo's 160 faces (python -m training
# detection-range does not need this; `face_from_mesh` is checked against the detector in the tests):
# the box is 2.24 eye-centre distances wide and square, its centre 0.56 of them below the eye midpoint.
BOX_PER_EYES = 2.24
CENTRE_BELOW_EYES = 0.56
NOSE_TIP = 4
CALIB_FOLLOW = 0.5  # each detection moves a track's calibration this share of the way to its own (calibrate)
SAME_FACE = 0.5  # boxes sharing this share of the smaller one are one face (a tile sees part of a big face)
# A face keeps the 478-point mesh (blendshapes) until another face is this much larger in area: two
# people of one size swap ranks frame by frame, and the fine mesh would hop between them, switching both
# emoticons between the blendshape rig and the plain one on every frame.
FINE_STICKY = 1.3


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller box: a part of a face found on a tile lies inside the whole face."""
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return float(iw * ih / max(min(a[2] * a[3], b[2] * b[3]), 1e-9))


def distinct(faces: list[Face]) -> list[Face]:
    """The faces, largest first, without those that lie mostly inside a larger one: a tile sees part
    of a big face as a face of its own. The tracker drops them as it starts tracks (`_merge`)."""
    keep: list[Face] = []
    for f in sorted(faces, key=lambda f: -f.area):
        if all(overlap(k.box, f.box) < SAME_FACE for k in keep):
            keep.append(f)
    return keep


def face_from_mesh(points: np.ndarray, score: float) -> Face:
    """A detection made from the mesh: box and the 6 BlazeFace keypoints in frame pixels."""
    right, left = points[list(RIGHT_EYE), :2].mean(0), points[list(LEFT_EYE), :2].mean(0)
    d = float(np.linalg.norm(left - right))
    angle = math.atan2(left[1] - right[1], left[0] - right[0])
    down = np.array([-math.sin(angle), math.cos(angle)])
    centre = (right + left) / 2 + CENTRE_BELOW_EYES * d * down
    side = BOX_PER_EYES * d
    box = np.array([centre[0] - side / 2, centre[1] - side / 2, side, side], np.float32)
    mouth = points[list(LIP_INNER), :2].mean(0)
    kp = np.stack([right, left, points[NOSE_TIP, :2], mouth, points[CHEEKS[0], :2], points[CHEEKS[1], :2]])
    return Face(box, score, kp.astype(np.float32), keypoints_from="mesh")


@dataclass
class Tracked:
    """One person's face this frame: where it is, its mesh (None where the mesh did not run) and how many
    frames it has been followed (a new face is classified at once). What the tracker remembers of the
    person besides (the calibration, the thumbnail) is in their record (edge/perceive/person.py)."""

    track_id: int
    face: Face
    landmarks: Landmarks | None
    age: int = 0


LOOK_SIDE = 12
SAME_PERSON = 0.5  # correlation of a face's thumbnail with its track's below which it is somebody else


def thumbnail(frame_bgr: np.ndarray, face: Face) -> np.ndarray:
    """A face's appearance in 144 numbers: enough to tell a cut from one person to another at the
    same place (the mesh would follow the new face as if nothing happened), too coarse to identify."""
    x, y, w, h = (int(round(v)) for v in face.box)
    H, W = frame_bgr.shape[:2]
    region = frame_bgr[max(0, y):min(H, y + h), max(0, x):min(W, x + w)]
    if region.size == 0:
        return np.zeros(LOOK_SIDE * LOOK_SIDE, np.float32)
    grey = cv2.cvtColor(cv2.resize(region, (LOOK_SIDE, LOOK_SIDE), interpolation=cv2.INTER_AREA),
                        cv2.COLOR_BGR2GRAY).astype(np.float32).ravel()
    grey -= grey.mean()
    return grey / max(float(np.linalg.norm(grey)), 1e-6)


def calibrate(detected: Face, made: Face) -> tuple[float, float, float, float]:
    """The detector's eye line lies ~1 degree off the mesh's eye contours (the demo's faces: -1.2 mean,
    sd 4 per frame), and the face mesh reads brows and mouth differently when its crop turns. On the
    demo, a tracked face's brow_raise against every-frame detection's (median difference): 0.070 without
    the turn, 0.059 with it, 0.048-0.0505 when each detection also moves the calibration half way
    (CALIB_FOLLOW 0.5, not 0.3; 1.0: 0.052); the mouth's width 0.046 -> 0.021, roll 0.46 -> 0.16 degrees
    (issue 19). With the schedules' cadence fixed (edge/state.py is_due): brows 0.0495. The result is
    (scale, dx, dy in box widths, the eye line's turn in degrees), kept in the person's record: the crops
    every model was trained on are cut from detector boxes, so the mesh-made box is corrected to match
    them, person by person."""
    s = float(detected.box[2] / made.box[2])
    cd, cm = detected.box[:2] + detected.box[2:] / 2, made.box[:2] + made.box[2:] / 2
    turn = (roll_degrees(detected) - roll_degrees(made) + 180.0) % 360.0 - 180.0
    return s, float((cd[0] - cm[0]) / made.box[2]), float((cd[1] - cm[1]) / made.box[2]), turn


def corrected(made: Face, calib: tuple[float, float, float, float]) -> Face:
    """The mesh-made face moved, scaled and its keypoints turned about the box's centre as `calib` says."""
    s, dx, dy, turn = calib
    w = made.box[2]
    cx, cy = made.box[0] + w / 2 + dx * w, made.box[1] + made.box[3] / 2 + dy * w
    side = w * s
    a = math.radians(turn)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    centre = np.array([cx, cy])
    keypoints = (made.keypoints - centre) @ rot.T + centre
    return Face(np.array([cx - side / 2, cy - side / 2, side, side], np.float32), made.score,
                keypoints.astype(np.float32), made.keypoints_from)


class FaceTracker:
    """detector + mesh -> the faces of each frame, largest first.

    detect_every: frames between scheduled detections (new people are found within that many frames);
    a frame where a tracked face was lost is detected again at once, in the same frame.
    full_rate_faces: the largest faces, whose mesh runs every frame; a smaller face's mesh runs every
    other frame (its track keeps its box between, with no landmarks: the smoother holds its motion).
    Half the faces on turns skip on odd frames, half on even, so a group of four costs three meshes a
    frame, not four, and two with 0, which puts the largest face on turns too (half its mesh cost, its
    motion one frame later at most). Who skips when is set by track id, not by rank: faces of one size
    swap ranks from frame to frame, and by rank a face that skipped would often skip again (four such
    faces with 0: 2.64 meshes a frame by rank, 2.31 by id; every sixth frame the detector's faces all run).
    """

    def __init__(self, detect, mesh: FaceMesh, detect_every: int = 6, max_faces: int = 4,
                 fine: FaceMesh | None = None, fine_faces: int = 0, full_rate_faces: int = 4):
        self.detect = detect  # frame -> list[Face], largest first
        self.mesh = mesh
        self.fine = fine  # the 478-point mesh (blendshapes) for the fine_faces largest faces
        self.fine_faces = fine_faces
        self.detect_every = max(1, detect_every)
        self.max_faces = max_faces
        self.full_rate_faces = max(0, full_rate_faces)
        self.tracks: list[Tracked] = []
        self.people = People()  # the record of each person followed, forgotten when the track is dropped
        self._since_detect = self.detect_every  # the first frame detects
        self.detections = 0
        self.frames = 0
        self._next_id = 1
        self.ms = {"detect": 0.0, "landmarks": 0.0}  # the last update's time in each, for the stage table

    def update(self, frame_bgr: np.ndarray) -> list[Tracked]:
        self.frames += 1
        self.ms = {"detect": 0.0, "landmarks": 0.0}
        due = self._since_detect >= self.detect_every or not self.tracks
        matched = self._detect(frame_bgr) if due else {}
        alive = self._follow(frame_bgr, self.tracks, matched)
        followed = {a.track_id for a in alive}
        lost = [t for t in self.tracks if t.age > 0 and t.track_id not in followed]
        if lost:  # somebody left or turned away, or the mesh lost a face for a moment (a blink, a hand)
            if not due:  # whoever is there now is looked for at once
                self.tracks = alive
                matched = self._detect(frame_bgr, lost)
            # found again where it was lost: the same person (the thumbnail still tells a cut to somebody
            # else), its mesh read again on the detector's box; a blink started a new track, and for 0.8 s
            # the new one showed whatever its first reads said (sunglasses, a lighter skin)
            again = [replace(t, face=matched[t.track_id]) for t in lost if t.track_id in matched]
            fresh = [t for t in self.tracks if t.age == 0 and t.track_id not in followed] if not due else []
            alive = alive + self._follow(frame_bgr, again + fresh, matched)
        self.tracks = self._dedupe(alive)
        self.people.keep(t.track_id for t in self.tracks)
        self._since_detect += 1
        return sorted(self.tracks, key=lambda t: -t.face.area)

    def _detect(self, frame_bgr: np.ndarray, lost: list[Tracked] = ()) -> dict[int, Face]:
        """Run the detector; new faces become tracks (age 0); returns track id -> its detection (a
        track in `lost` found again where it was lost included)."""
        t0 = time.perf_counter()
        matched = self._merge(self.detect(frame_bgr)[: self.max_faces], lost)
        self._since_detect = 0
        self.detections += 1
        self.ms["detect"] += (time.perf_counter() - t0) * 1000
        return matched

    def _follow(self, frame_bgr: np.ndarray, tracks: list[Tracked], matched: dict[int, Face]) -> list[Tracked]:
        """Each track's mesh on this frame: its box for this frame's crops and the next frame's mesh."""
        t0 = time.perf_counter()
        alive: list[Tracked] = []
        fine = self.fine_faces if self.fine is not None else 0
        ranked = sorted(tracks, key=lambda t: -t.face.area)
        turn = {tid: i for i, tid in enumerate(sorted(t.track_id for t in ranked[self.full_rate_faces:]))}
        sticky = sorted(tracks, key=lambda t: -t.face.area * (FINE_STICKY if self._had_fine(t.track_id) else 1.0))
        fine_ids = {t.track_id for t in sticky[:fine]}
        for rank, t in enumerate(ranked):
            if (rank >= self.full_rate_faces and t.age > 0 and t.landmarks is not None
                    and t.track_id not in matched and (self.frames + turn[t.track_id]) % 2):
                alive.append(Tracked(t.track_id, t.face, None, t.age + 1))
                continue  # its turn is the next frame: this one keeps its box
            lm = (self.fine if t.track_id in fine_ids else self.mesh)(frame_bgr, t.face)
            if lm is None:  # gone, or (a new detection, often on a tile) never a face: the mesh vetoes
                continue
            person: Person = self.people[t.track_id]
            person.fine_mesh = t.track_id in fine_ids
            made = face_from_mesh(lm.points, lm.score)
            seen = thumbnail(frame_bgr, made)
            age, calib, before = t.age, person.calib, person.thumb
            if before is not None and float(seen @ before) < SAME_PERSON:  # a cut to another person
                person, age, calib, before = self.people[self._next_id], 0, NO_CALIB, None
                self._next_id += 1
            if t.track_id in matched:  # follow the detector's idea of this face, smoothly
                c = calibrate(matched[t.track_id], made)
                calib = c if age == 0 else tuple((1 - CALIB_FOLLOW) * a + CALIB_FOLLOW * b for a, b in zip(calib, c))
            mean = seen if before is None else 0.8 * before + 0.2 * seen
            person.calib, person.thumb = calib, mean / max(float(np.linalg.norm(mean)), 1e-6)
            alive.append(Tracked(person.id, corrected(made, calib), lm, age + 1))
        self.ms["landmarks"] += (time.perf_counter() - t0) * 1000
        return alive

    def _had_fine(self, track_id: int) -> bool:
        """Was this track's last mesh the fine one?"""
        return track_id in self.people and self.people[track_id].fine_mesh

    def _merge(self, found: list[Face], lost: list[Tracked] = ()) -> dict[int, Face]:
        """Detections join the tracks they overlap (the track's mesh-made box is kept: it is steadier), or a
        track `lost` this frame at the same place;
        the rest start new tracks. Returns track id -> the detection that matched or started it."""
        matched: dict[int, Face] = {}
        for face in found:
            best = max([*self.tracks, *lost], key=lambda t: box_iou(t.face.box, face.box), default=None)
            if best is not None and box_iou(best.face.box, face.box) >= 0.3:
                matched.setdefault(best.track_id, face)
                continue
            if any(overlap(t.face.box, face.box) >= SAME_FACE for t in self.tracks):
                continue  # part of a face already followed
            if len(self.tracks) < self.max_faces:
                self.tracks.append(Tracked(self._next_id, face, None, 0))
                matched[self._next_id] = face
                self._next_id += 1
        return matched

    @staticmethod
    def _dedupe(tracks: list[Tracked]) -> list[Tracked]:
        """Two crops that drifted onto one face would show one person twice: keep the older track."""
        keep: list[Tracked] = []
        for t in sorted(tracks, key=lambda t: -t.age):
            if all(overlap(t.face.box, k.face.box) < SAME_FACE for k in keep):
                keep.append(t)
        return keep


class BoxTracker:
    """Faces followed by their boxes alone, where no mesh follows them (detector.track_every = 1, or no
    face mesh): the detector runs on every frame, and each of its faces, largest first, is the person whose
    last box it overlaps most (by min_iou at least; otherwise somebody new). A person unseen for timeout_s
    is dropped, so a missed detection or two does not make somebody new."""

    def __init__(self, timeout_s: float = 1.0, min_iou: float = 0.2):
        self.timeout, self.min_iou = timeout_s, min_iou
        self.people = People()  # as FaceTracker's: forgotten when dropped here
        self._order: list[Person] = []  # this frame's people first: a tie in overlap goes to the first
        self._next_id = 1

    def update(self, faces: list[Face], now: float) -> list[int]:
        """Each face's person id, in the order of `faces`."""
        free = [p for p in self._order if now - p.seen_at <= self.timeout]
        current: list[Person] = []
        for face in faces:
            best = max(free, key=lambda p: box_iou(p.box, face.box), default=None)
            if best is not None and box_iou(best.box, face.box) >= self.min_iou:
                free.remove(best)
            else:
                best = self.people[self._next_id]
                self._next_id += 1
            best.box, best.seen_at = face.box, now
            current.append(best)
        self._order = current + free
        self.people.keep(p.id for p in self._order)
        return [p.id for p in current]
