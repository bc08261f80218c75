"""Is a still photo's retried box a face? The retries (padded copies, tiles, a lower threshold) find
tight close-ups the first look misses, and now and then a torso, a shirt print or a window.

Three kinds of evidence, any one enough:
- the face mesh sees a face in the box and the full-range model finds one there too (a bare face);
- the short-range model finds the same box on every padded copy and on each copy's mirror image
  (a face cut tight around a mask: the mesh and the full-range model, trained on bare faces, often
  say no, but the detector is steady about it; a pattern it takes for a face on one copy it loses
  on another);
- it is found on most of those copies and the mesh sees a face when the box is moved or resized a
  little (the retry's box sits off a masked face, and the mesh reads what it is handed).
Measured on masked photos and on generated face-free images (tests/perceive/face_free.py).
"""
from __future__ import annotations

import cv2
import numpy as np

from edge.perceive.detect import STILL_PADDINGS, BlazeFaceDetector, pad
from edge.perceive.landmarks import FaceMesh
from edge.state import Face, box_iou

CONFIRM_IOU = 0.3  # a retry's box and the full-range model's must overlap this much
VIEW_IOU = 0.5  # the same box on another padded copy
VIEW_MIN_SCORE = 0.3
VIEWS = 2 * len(STILL_PADDINGS)  # each padded copy, plain and mirrored
MOST_VIEWS = 4
MESH_MOVES = [(s, dy) for s in (0.8, 1.0, 1.25) for dy in (-0.15, 0.0, 0.15)]  # box scale, shift down (box heights)


def seen_by_far_model(far: BlazeFaceDetector, image_bgr: np.ndarray, face: Face) -> bool:
    """The full-range model on the region around the box (2.5 box widths, as a padded retry sees it)."""
    x, y, w, h = (float(v) for v in face.box)
    side = 2.5 * max(w, h)
    x0, y0 = int(round(x + w / 2 - side / 2)), int(round(y + h / 2 - side / 2))
    m = np.float32([[1, 0, -x0], [0, 1, -y0]])
    region = cv2.warpAffine(image_bgr, m, (int(side), int(side)), borderMode=cv2.BORDER_REPLICATE)
    return any(box_iou(f.box + np.float32([x0, y0, 0, 0]), face.box) >= CONFIRM_IOU for f in far.detect(region))


def views_found(detector: BlazeFaceDetector, image_bgr: np.ndarray, face: Face) -> int:
    """On how many of the padded copies (each plain and mirrored) the short-range model finds this box."""
    width = image_bgr.shape[1]
    found = 0
    for mirror in (False, True):
        image = np.ascontiguousarray(image_bgr[:, ::-1]) if mirror else image_bgr
        for _, top, side, bottom in STILL_PADDINGS:
            padded, (ox, oy) = pad(image, top, side, bottom)
            for f in detector.detect(padded, VIEW_MIN_SCORE):
                box = f.box - np.float32([ox, oy, 0, 0])
                if mirror:
                    box[0] = width - box[0] - box[2]
                if box_iou(box, face.box) >= VIEW_IOU:
                    found += 1
                    break
    return found


def mesh_near(mesh: FaceMesh, image_bgr: np.ndarray, face: Face) -> bool:
    """The mesh sees a face in the box or in the box moved or resized a little."""
    centre = face.box[:2] + face.box[2:] / 2
    for scale, down in MESH_MOVES:
        size = face.box[2:] * scale
        moved_centre = centre + np.float32([0, down * face.box[3]])
        box = np.concatenate([moved_centre - size / 2, size]).astype(np.float32)
        if mesh(image_bgr, Face(box, face.score, (face.keypoints + (moved_centre - centre)).astype(np.float32))):
            return True
    return False


def is_face(image_bgr: np.ndarray, face: Face, detector: BlazeFaceDetector, far: BlazeFaceDetector | None,
            mesh: FaceMesh | None) -> bool:
    if mesh is None:  # no mesh to ask: the full-range model alone decides (or nothing does)
        return far is None or seen_by_far_model(far, image_bgr, face)
    if mesh(image_bgr, face) is not None and (far is None or seen_by_far_model(far, image_bgr, face)):
        return True
    views = views_found(detector, image_bgr, face)
    return views == VIEWS or (views >= MOST_VIEWS and mesh_near(mesh, image_bgr, face))
