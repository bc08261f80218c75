"""An int8 file's answers, image by image, as probabilities per head: how every report and tool here
scores a converted model (convert imports this; training imports nothing of convert)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from edge.runtime import TFLiteModel


def to_probs(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis; a 1-logit head is binary, so it gets a sigmoid instead."""
    logits = np.asarray(logits, np.float64)
    if logits.shape[-1] == 1:
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def to_labels(probs: np.ndarray) -> np.ndarray:
    """argmax, or p > 0.5 for a sigmoid head."""
    return (probs[..., 0] > 0.5).astype(np.int64) if probs.shape[-1] == 1 else probs.argmax(-1)


def run_tflite(tflite_path: str | Path | TFLiteModel, x_nhwc: np.ndarray | torch.Tensor,
               outputs: Mapping[str, int], flip: bool = False, num_threads: int = 1) -> dict[str, np.ndarray]:
    """Probabilities per head, image by image (the files have batch 1, as on the Pi).

    flip averages each image's probabilities with its mirror's, as training.trainer.predict does.
    """
    tm = tflite_path if isinstance(tflite_path, TFLiteModel) else TFLiteModel(tflite_path, num_threads)
    x = (x_nhwc.numpy() if isinstance(x_nhwc, torch.Tensor) else np.asarray(x_nhwc)).astype(np.float32)
    res: dict[str, list[np.ndarray]] = {h: [] for h in outputs}
    for i in range(len(x)):
        outs = tm.run(x[i:i + 1])
        if flip:
            outs_f = tm.run(np.ascontiguousarray(x[i:i + 1, :, ::-1]))
        for h, j in outputs.items():
            p = to_probs(outs[j])
            if flip:
                p = (p + to_probs(outs_f[j])) / 2
            res[h].append(p)
    return {h: np.concatenate(v) for h, v in res.items()}
