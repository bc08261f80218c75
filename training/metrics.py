"""Classification metrics in numpy, shared by training reports and the int8 evaluation."""
from __future__ import annotations

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(y_true * n + y_pred, minlength=n * n).reshape(n, n)


def summarize(y_true: np.ndarray, probs: np.ndarray, classes: list[str]) -> dict:
    """accuracy, macro-F1 and per-class recall; 'score' is what model selection maximizes."""
    n = len(classes)
    y_pred = probs.argmax(1)
    cm = confusion(y_true, y_pred, n)
    tp = np.diag(cm).astype(float)
    recall = tp / np.maximum(cm.sum(1), 1)
    precision = tp / np.maximum(cm.sum(0), 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    acc = float(tp.sum() / max(1, cm.sum()))
    return {
        "accuracy": round(acc, 4),
        "macro_f1": round(float(f1.mean()), 4),
        "balanced_accuracy": round(float(recall.mean()), 4),
        "recall": {c: round(float(r), 4) for c, r in zip(classes, recall)},
        "confusion": cm.tolist(),
        "score": acc,
    }
