"""The int8 classifiers, found and configured only through models_tflite/manifest.json.

A model absent from the manifest is simply not run (the mirror says so once and shows what it
knows); a model listed but broken is an error at start that names the file, because a kiosk that
silently ignores its expression model would look alive and be wrong for days.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.perceive import labels as shown_labels
from edge.perceive.crop import CropRule, crop_face
from edge.model_files import MODELS_DIR, checked, read_manifest
from edge.perceive.preprocess import lookup
from edge.runtime import ModelError, TFLiteModel
from edge.perceive.skin_tone import SkinCrop, SkinToneMeter, band_scores
from edge.state import Face

log = logging.getLogger(__name__)

DEFAULT_MODELS_DIR = MODELS_DIR
KNOWN_MODELS = ("expression", "attributes")  # the order they run in
SKIN_WITH = "attributes"  # the measured skin tone runs on the attribute model's schedule
# A mask this likely already moves the skin reading to the regions above a mask (the mask head itself
# still shows its own answer).
MASK_UNSURE = 0.3
VIEWS = (1, 2, 4)  # test-time views: plain; + mirror; + mirror and zoom
DEFAULT_ZOOM = 0.92


def tta_views(crop: np.ndarray, views: int, zoom: float = DEFAULT_ZOOM) -> list[np.ndarray]:
    """Test-time views of one preprocessed crop: itself, its mirror, and both zoomed in a little.

    Averaging them is worth about a point of accuracy on FER2013 val for 2 to 4 times the
    model's 0.3 ms; the zoom is a centre crop resized back, as it was validated.
    """
    out = [crop]
    if views >= 2:
        out.append(crop[:, ::-1])
    if views >= 4:
        h, w = crop.shape[:2]
        ch, cw = int(h * zoom), int(w * zoom)
        oy, ox = (h - ch) // 2, (w - cw) // 2
        zoomed = cv2.resize(crop[oy:oy + ch, ox:ox + cw], (w, h), interpolation=cv2.INTER_LINEAR)
        out += [zoomed, zoomed[:, ::-1]]
    return out


def apply_gate(probs: np.ndarray, classes: list[str], min_confidence: dict[str, float]) -> np.ndarray:
    """probs (..., C): a gated class below its confidence gets probability 0 and the rest are renormalised,
    so it is never the answer there; above it, it competes as usual."""
    out = np.array(probs, dtype=np.float64, copy=True)
    for cls, t in min_confidence.items():
        c = classes.index(cls)
        low = out[..., c] < t
        out[..., c] = np.where(low, 0.0, out[..., c])
    return out / out.sum(-1, keepdims=True)


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max())
    return e / e.sum()


@dataclass(frozen=True)
class Head:
    name: str
    index: int  # which output tensor
    classes: list[str]


class Classifier:
    """One manifest entry: crop -> preprocess -> int8 model -> softmax per head."""

    def __init__(self, name: str, entry: dict, models_dir: Path, num_threads: int = 1, views: int = 1):
        self.name = name
        try:
            self.path = models_dir / entry["file"]
            inp = entry["input"]
            self.size = (int(inp["size"][0]), int(inp["size"][1]))
            self.color = inp["color"]
            self.pixel_scale = float(inp["pixel_scale"])
            self.pixel_offset = float(inp["pixel_offset"])
            self.preprocess = lookup(inp.get("preprocess", "none"))
            self.layout = inp.get("layout", "NHWC")
            self.crop_rule = CropRule.from_manifest(inp.get("crop", {}))
            outputs = entry.get("outputs") or {name: {"index": 0, "classes": entry["classes"]}}
            self.heads = [Head(h, int(o["index"]), list(o["classes"])) for h, o in outputs.items()]
            expected_sha = entry["sha256"]
            # head -> class -> the confidence the class needs before it may be the answer (a rare class
            # that is easily confused, chosen on val by convert for a minimum precision)
            self.min_confidence = {h: {c: float(t) for c, t in g.items()}
                                   for h, g in (entry.get("min_confidence") or {}).items()}
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise ModelError(f"manifest entry {name!r}: missing or bad field ({e})") from None
        if self.color not in ("gray", "rgb") or self.layout not in ("NHWC", "NCHW"):
            raise ModelError(f"manifest entry {name!r}: color must be gray|rgb and layout NHWC|NCHW")
        checked(self.path, expected_sha, "model file listed in the manifest")
        self.model = TFLiteModel(self.path, num_threads)
        if views not in VIEWS:
            raise ValueError(f"views must be one of {VIEWS}")
        self.views = views
        self.zoom = float(inp.get("tta_zoom", DEFAULT_ZOOM))
        channels = 1 if self.color == "gray" else 3
        want = (1, *self.size, channels) if self.layout == "NHWC" else (1, channels, *self.size)
        got = self.model.inputs[0].shape
        if got != want:
            raise ModelError(f"{self.path}: input shape {got} does not match the manifest's {want}")
        for head in self.heads:
            unknown = set(self.min_confidence.get(head.name, {})) - set(head.classes)
            if unknown:
                raise ModelError(f"manifest entry {name!r}: min_confidence names classes {sorted(unknown)} "
                                 f"that head {head.name!r} does not have")
            if head.index >= len(self.model.outputs) or self.model.outputs[head.index].shape[-1] != len(head.classes):
                raise ModelError(f"{self.path}: output {head.index} does not have the manifest's "
                                 f"{len(head.classes)} classes for head {head.name!r}")

    def crop(self, frame_bgr: np.ndarray, face: Face) -> np.ndarray:
        return crop_face(frame_bgr, face, self.crop_rule, self.size, self.color)

    def tensor(self, pixels: np.ndarray) -> np.ndarray:
        """Preprocessed pixels -> the model's real-valued input."""
        x = pixels.astype(np.float32) * self.pixel_scale + self.pixel_offset
        x = x.reshape(*self.size, -1)
        return (x[None] if self.layout == "NHWC" else x.transpose(2, 0, 1)[None])

    def probabilities(self, crop: np.ndarray, preprocessed: bool = False, gate: bool = True) -> dict[str, np.ndarray]:
        """Per head, class probabilities: the mean over the test-time views of the crop, with a gated
        class's probability set to 0 below its confidence (so neither argmax nor smoothing picks it).
        preprocessed: the crop already went through the manifest's preprocess (training's stored crops)."""
        views = tta_views(crop if preprocessed else self.preprocess(crop), self.views, self.zoom)
        acc: dict[str, np.ndarray] = {}
        for view in views:
            outs = self.model.run(self.tensor(np.ascontiguousarray(view)))
            for head in self.heads:
                p = softmax(outs[head.index].reshape(-1))
                acc[head.name] = acc.get(head.name, 0) + p / len(views)
        if gate:
            for head in self.heads:
                if head.name in self.min_confidence:
                    acc[head.name] = apply_gate(acc[head.name], head.classes, self.min_confidence[head.name])
        return acc


@dataclass
class FaceCrops:
    """What the crop stage takes from the frame for one face: one crop per model, and the face
    cut for the skin tone (read once the attribute model has said what covers it)."""

    crops: list[np.ndarray | None]  # None: that model does not run this time
    skin: SkinCrop | None


class ClassifierSet:
    """All classifiers the manifest offers, plus the measured skin tone, run per face."""

    def __init__(self, models_dir: Path | None = None, num_threads: int = 1, views: int = 4,
                 skin_tone: bool = True, skin_detector=None, skin_calibration=None):
        """skin_detector: the short-range BlazeFace the skin tone re-reads keypoints with (edge/build.py
        makes it; a test may leave it to the meter); skin_calibration: the live camera's grey-card
        calibration, if it has one (edge/calibration.py)."""
        self.models_dir = models_dir or DEFAULT_MODELS_DIR
        self.skin = SkinToneMeter(skin_detector, calibration=skin_calibration) if skin_tone else None
        manifest = read_manifest(self.models_dir)
        self.classifiers = [
            Classifier(name, manifest[name], self.models_dir, num_threads,
                       views=views if name == "expression" else 1)
            for name in KNOWN_MODELS if name in manifest
        ]
        self.missing = [name for name in KNOWN_MODELS if name not in manifest]
        if self.missing:
            log.warning("no trained model for %s in %s: showing neutral defaults for %s, not guesses",
                        ", ".join(self.missing), self.models_dir / "manifest.json", ", ".join(self.missing))

    def expression_views(self, views: int) -> None:
        """Test-time views for the expression model from now on (the frame loop lowers them for groups)."""
        if views not in VIEWS:
            raise ValueError(f"views must be one of {VIEWS}")
        for c in self.classifiers:
            if c.name == "expression":
                c.views = views

    @property
    def heads(self) -> list[str]:
        return [h.name for c in self.classifiers for h in c.heads] + ([self.skin.name] if self.skin else [])

    def begin_frame(self, frame_bgr: np.ndarray, faces: list[Face], fresh: bool = False) -> None:
        """Per-frame work shared by all faces: the skin tone cuts every face out of the others'
        surroundings, whose light it is measured under; fresh for still photos, where each
        picture has its own light."""
        if self.skin is not None:
            self.skin.begin_frame(frame_bgr, faces, fresh)

    def crops(self, frame_bgr: np.ndarray, face: Face, models: set[str] | None = None,
              points: np.ndarray | None = None) -> FaceCrops:
        """The crops of the models named (all when None); the skin tone goes with the attributes,
        which change as rarely, and is read on the face's mesh `points` where it has one."""
        skin = self.skin is not None and (models is None or SKIN_WITH in models)
        return FaceCrops([c.crop(frame_bgr, face) if models is None or c.name in models else None
                          for c in self.classifiers],
                         self.skin.cut(frame_bgr, face, points) if skin else None)

    def classify(self, face_crops: FaceCrops, models: set[str] | None = None) -> dict[str, np.ndarray]:
        """head -> probabilities (for skin tone: soft band scores) for one face, for the models named."""
        out: dict[str, np.ndarray] = {}
        for c, crop in zip(self.classifiers, face_crops.crops):
            if crop is not None and (models is None or c.name in models):
                out.update(c.probabilities(crop))
        if face_crops.skin is not None:
            index = self.skin.read(face_crops.skin, **self._cover(out))
            if index is not None:
                out["skin_tone"] = band_scores(index)
        return out

    def _cover(self, probs: dict[str, np.ndarray]) -> dict[str, bool]:
        """What hides the cheeks in this answer (a mask, sunglasses); nothing without the attribute
        model. A mask the model is unsure of counts: the forehead and the bridge of the nose are skin
        either way, while a missed mask's fabric read as cheek turned a light face in a red mask dark."""
        def top(head: str) -> str | None:
            return self.classes(head)[int(np.argmax(probs[head]))] if head in probs else None
        mask = "mask" in probs and float(probs["mask"][self.classes("mask").index("mask")]) >= MASK_UNSURE
        return {"mask": mask, "sunglasses": top("eyewear") == "sunglasses"}

    def labels(self, probs: dict[str, np.ndarray]) -> dict[str, str]:
        """head -> the label shown; a frame shape is dropped unless the eyewear is clear glasses,
        where it means nothing (the emoticon draws no frames)."""
        out = {head: shown_labels.name(self.classes(head), shown_labels.pick(head, p)) for head, p in probs.items()}
        if out.get("eyewear") != "glasses":
            out.pop("glasses_shape", None)
        return out

    def classes(self, head: str) -> list[str]:
        if self.skin is not None and head == self.skin.name:
            return self.skin.classes
        for c in self.classifiers:
            for h in c.heads:
                if h.name == head:
                    return h.classes
        raise KeyError(head)
