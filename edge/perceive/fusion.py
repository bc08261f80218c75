"""Expression with blendshapes: the expression model's answer fused with what the 52 blendshapes say.

The expression network reads a 48x48 grey crop; the blendshape model reads the 478-point mesh, which
sees a raised cheek or a dropped jaw at any size and in any light. Where a face has both in the same
frame (the largest face, live), their evidence is combined late, as a weighted product of the two
probability distributions:

    log p = alpha * log p_expression + (1 - alpha) * log p_shapes     (then normalised)

p_shapes comes from a small head (multinomial logistic regression on the 52 scores) that does not
depend on the expression model, so it survives a new expression model; alpha was chosen on FER+ val
against one expression model, whose sha256 the file records. With any other expression model the
fusion is skipped with one warning line, until `python -m training expression-fusion --write` refits
it (see training/README.md). A class the expression model's confidence gate holds back (probability
exactly 0) stays at 0: the gate's promise about precision holds for the fused answer too.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.perceive.blendshapes import NAMES
from edge.model_files import MODELS_DIR, manifest_model, read_manifest
from edge.runtime import ModelError

log = logging.getLogger(__name__)

NAME = "expression_fusion"  # manifest name
FILE = "expression_fusion.json"
EXPRESSION = "expression"  # the manifest entry (and probs head) the fusion belongs to


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


@dataclass(frozen=True)
class ShapeHead:
    """The 52 scores -> class probabilities (standardised scores, then a linear layer and softmax)."""

    classes: tuple[str, ...]
    weight: np.ndarray  # (C, 52)
    bias: np.ndarray  # (C,)
    mean: np.ndarray  # (52,) training scores' mean and spread
    scale: np.ndarray  # (52,)

    def probs(self, shapes: np.ndarray) -> np.ndarray:
        """(..., 52) scores in edge.perceive.blendshapes.NAMES order -> (..., C) probabilities."""
        z = (np.asarray(shapes, np.float64) - self.mean) / self.scale
        return softmax_rows(z @ self.weight.T + self.bias)


@dataclass(frozen=True)
class Fusion:
    head: ShapeHead
    alpha: float  # the expression model's share of the log-probabilities (1 = the model alone)
    expression_sha256: str  # the expression model alpha was chosen with

    @property
    def classes(self) -> tuple[str, ...]:
        return self.head.classes

    def __call__(self, p_expression: np.ndarray, shapes: np.ndarray) -> np.ndarray:
        """Fused probabilities; p_expression (..., C) as the classifier returns them (gate applied),
        shapes (..., 52) the raw blendshape scores of the same face."""
        p = np.asarray(p_expression, np.float64)
        held = p <= 0  # held back by the expression model's gate
        logp = self.alpha * np.log(np.maximum(p, 1e-12)) + (1 - self.alpha) * np.log(
            np.maximum(self.head.probs(shapes), 1e-12))
        out = softmax_rows(np.where(held, -np.inf, logp))
        return out.astype(np.float32)

    def to_json(self) -> dict:
        h = self.head
        return {"what": "expression fused with a head on the 52 blendshapes (edge/perceive/fusion.py)",
                "classes": list(h.classes), "features": list(NAMES), "alpha": self.alpha,
                "expression_sha256": self.expression_sha256,
                "weight": np.round(h.weight, 6).tolist(), "bias": np.round(h.bias, 6).tolist(),
                "mean": np.round(h.mean, 6).tolist(), "scale": np.round(h.scale, 6).tolist()}

    @classmethod
    def from_json(cls, d: dict) -> "Fusion":
        try:
            if list(d["features"]) != list(NAMES):
                raise ValueError("its features are not the 52 blendshapes in edge.perceive.blendshapes.NAMES order")
            classes = tuple(str(c) for c in d["classes"])
            head = ShapeHead(classes, np.array(d["weight"], np.float64), np.array(d["bias"], np.float64),
                             np.array(d["mean"], np.float64), np.array(d["scale"], np.float64))
            if head.weight.shape != (len(classes), len(NAMES)) or head.bias.shape != (len(classes),) or \
                    head.mean.shape != (len(NAMES),) or head.scale.shape != (len(NAMES),):
                raise ValueError(f"weight {head.weight.shape}, bias {head.bias.shape} do not fit {len(classes)} classes")
            alpha = float(d["alpha"])
            if not 0.0 <= alpha <= 1.0:
                raise ValueError(f"alpha {alpha} is not in [0, 1]")
            return cls(head, alpha, str(d["expression_sha256"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(f"{FILE}: bad fusion file ({e})") from None


def check_fusion(models_dir: Path = MODELS_DIR) -> tuple[Fusion | None, str]:
    """The committed fusion if it fits the expression model the manifest ships now, else None; and one
    line saying why (doctor prints it, load_fusion logs it). A fusion listed but corrupt is an error,
    like any model file."""
    manifest = read_manifest(models_dir)
    if NAME not in manifest:
        return None, "none committed (the expression model alone)"
    path, _ = manifest_model(NAME, models_dir)
    try:
        fusion = Fusion.from_json(json.loads(path.read_text()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"{path}: unreadable ({e})") from None
    expression = manifest.get(EXPRESSION, {})
    if expression.get("sha256") != fusion.expression_sha256:
        return None, (f"off: chosen with expression model {fusion.expression_sha256[:12]}..., the manifest ships "
                      f"{str(expression.get('sha256'))[:12]}... (refit: python -m training expression-fusion --write)")
    fitted, fed = manifest[NAME].get("expression_preprocess"), expression.get("input", {}).get("preprocess")
    if fitted is not None and fitted != fed:
        return None, (f"off: chosen with the expression model fed {fitted}, the manifest feeds it {fed} "
                      "(refit: python -m training expression-fusion --write)")
    if list(expression.get("classes", [])) != list(fusion.classes):
        return None, f"off: its classes {list(fusion.classes)} are not the expression model's {expression.get('classes')}"
    return fusion, f"on for the largest face, alpha {fusion.alpha:.2f} ({path.name})"


def load_fusion(models_dir: Path = MODELS_DIR) -> Fusion | None:
    """The fusion for the mirror: None silently when there is none, None with one warning line when it
    was chosen with another expression model (the mirror then shows the model alone)."""
    fusion, why = check_fusion(models_dir)
    if fusion is None and why.startswith("off"):
        log.warning("expression fusion %s", why)
    return fusion
