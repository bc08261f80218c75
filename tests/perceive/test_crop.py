"""Crops are upright on the eye line and cut by the manifest's rule, wherever the face is."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.perceive.crop import CropRule, crop_face, roll_degrees
from edge.state import Face


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of lightly blurred crops: what matters is where the face parts are, not texture."""
    a, b = (cv2.GaussianBlur(v, (5, 5), 1.5).astype(np.float64).ravel() for v in (a, b))
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


@pytest.mark.parametrize("angle", [-20, 15])
def test_a_tilted_head_gives_the_same_upright_crop(detector, portraits, angle):
    img = portraits["grace_hopper.jpg"]
    h, w = img.shape[:2]
    rotated = cv2.warpAffine(img, cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0), (w, h),
                             borderMode=cv2.BORDER_REFLECT101)
    upright = crop_face(img, detector.detect(img)[0], CropRule(), (48, 48), "gray")
    face = detector.detect(rotated)[0]
    assert roll_degrees(face) == pytest.approx(roll_degrees(detector.detect(img)[0]) - angle, abs=4)
    aligned = crop_face(rotated, face, CropRule(), (48, 48), "gray")
    unaligned = crop_face(rotated, face, CropRule(rotate=False), (48, 48), "gray")
    assert ncc(aligned, upright) > 0.75
    assert ncc(aligned, upright) > ncc(unaligned, upright) + 0.1


def test_rgb_crop_keeps_colour_order_and_scale_rule_widens(detector, portraits):
    img = portraits["astronaut.png"]
    face = detector.detect(img)[0]
    rgb = crop_face(img, face, CropRule(scale=1.0), (64, 64), "rgb")
    assert rgb.shape == (64, 64, 3)
    r, g, b = (rgb[..., i].mean() for i in range(3))
    assert r > b  # skin is red-ish: channels are R,G,B, not OpenCV's B,G,R
    wide = crop_face(img, face, CropRule(scale=2.0), (64, 64), "gray")
    tight = crop_face(img, face, CropRule(scale=1.0), (64, 64), "gray")
    # the tight crop is the wide crop's middle half, enlarged
    middle = cv2.resize(wide[16:48, 16:48], (64, 64), interpolation=cv2.INTER_LINEAR)
    assert ncc(middle, tight) > 0.9


def test_face_cut_by_the_border_and_a_huge_frame(detector, portraits):
    img = portraits["astronaut.png"]
    face = detector.detect(img)[0]
    face.box[:2] -= 200  # pretend the face sits half outside the frame
    crop = crop_face(img, face, CropRule(), (48, 48), "gray")
    assert crop.shape == (48, 48)
    big = cv2.resize(img, (4000, 4000))
    f = detector.detect(big)[0]
    assert crop_face(big, f, CropRule(), (48, 48), "gray").shape == (48, 48)


def test_warp_filters_fine_detail_the_same_at_every_scale():
    """A fine stripe pattern shrunk 3x or 5x must come out as its average grey, not as aliasing
    patterns that change with the scale (what made a face's skin read differently at each size)."""
    from edge.perceive.crop import warp

    stripes = np.zeros((600, 600), np.uint8)
    stripes[:, ::2] = 200
    for k in (1 / 3, 1 / 5, 1 / 4.4):
        m = np.array([[k, 0, -10], [0, k, -10]], np.float32)  # reads the middle of the pattern
        out = warp(stripes, m, (32, 32))
        assert abs(float(out.mean()) - 100) < 5 and float(out.std()) < 15, k
    plain = cv2.warpAffine(stripes, np.array([[1 / 4, 0, 0], [0, 1 / 4, 0]], np.float32), (32, 32))
    assert abs(float(plain.mean()) - 100) > 50  # bilinear alone reads every 4th column: all one colour


def test_a_crop_rule_names_its_filter_only_when_it_is_not_the_default():
    """Rules written before the filter existed read (and hash, in training's crop cache) the same."""
    old = {"kind": "eyes_aligned", "scale": 1.3, "shift_y": 0.05, "rotate": True}
    assert CropRule.from_manifest(old).filter == "pyramid"
    assert CropRule.from_manifest(old).to_manifest() == old
    area = CropRule(1.3, 0.05, filter="area")
    assert CropRule.from_manifest(area.to_manifest()) == area
    with pytest.raises(ValueError, match="unknown crop filter"):
        CropRule.from_manifest(old | {"filter": "lanczos"})


def test_an_area_crop_of_a_big_face_does_not_depend_on_pixel_parity(detector, portraits):
    """A big face (over ~200 px, where the pyramid halves the frame first) moved by one pixel: its
    pyramid crop changes, since pyrDown keeps every other pixel; the area-filtered crop is the same
    crop. Faces that need no halving get the same bilinear crop either way."""
    image = cv2.resize(portraits["grace_hopper.jpg"], None, fx=1.5, fy=1.5, interpolation=cv2.INTER_AREA)
    face = detector.detect(image)[0]
    assert face.box[2] * 1.3 > 4 * 64  # big enough to be halved by the pyramid
    shifted = cv2.warpAffine(image, np.float32([[1, 0, 1], [0, 1, 1]]), image.shape[1::-1],
                             flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
    moved = Face(face.box + np.float32([1, 1, 0, 0]), face.score, face.keypoints + 1)
    change = {}
    for f in ("pyramid", "area"):
        rule = CropRule(1.3, 0.05, filter=f)
        a = crop_face(image, face, rule, (64, 64), "rgb").astype(np.float32)
        b = crop_face(shifted, moved, rule, (64, 64), "rgb").astype(np.float32)
        change[f] = float(np.abs(a - b).mean())
    assert change["pyramid"] > 0.5 and change["area"] < 0.05, change
