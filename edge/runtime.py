"""The one place a .tflite is loaded and run.

Quantization is read from each tensor, never assumed: the same wrapper feeds BlazeFace (float),
our int8 classifiers and any uint8 model, so callers always pass and receive real-valued arrays.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class ModelError(Exception):
    """A model file that cannot be used; the message names the file and the problem."""


def _interpreter_class() -> tuple[Any, str]:
    """ai-edge-litert is the current name; tflite-runtime is what older Pi images have."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai_edge_litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite_runtime"
    except ImportError:
        pass
    try:
        import tensorflow as tf

        return tf.lite.Interpreter, "tensorflow.lite"
    except ImportError:
        raise ModelError(
            "no TFLite interpreter: install ai-edge-litert (pip install ai-edge-litert) or tflite-runtime"
        ) from None


def backend_name() -> str:
    return _interpreter_class()[1]


@dataclass(frozen=True)
class TensorInfo:
    name: str
    index: int
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float
    zero_point: int

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and np.issubdtype(self.dtype, np.integer)


class TFLiteModel:
    """A loaded model: real-valued arrays in, real-valued arrays out."""

    def __init__(self, path: str | Path, num_threads: int = 1):
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"{self.path}: model file not found")
        if self.path.stat().st_size == 0:
            raise ModelError(f"{self.path}: model file is empty")
        with open(self.path, "rb") as f:
            head = f.read(8)
        if head[4:8] != b"TFL3":
            raise ModelError(f"{self.path}: not a TFLite flatbuffer (no TFL3 identifier)")
        cls, self.backend = _interpreter_class()
        try:
            self._it = cls(model_path=str(self.path), num_threads=num_threads)
            self._it.allocate_tensors()
        except Exception as e:  # the runtimes raise RuntimeError/ValueError with C++ text
            raise ModelError(f"{self.path}: cannot load model ({str(e).splitlines()[0][:200]})") from None
        self.inputs = [self._info(d) for d in self._it.get_input_details()]
        self.outputs = [self._info(d) for d in self._it.get_output_details()]

    @staticmethod
    def _info(d: dict) -> TensorInfo:
        scale, zero = d.get("quantization", (0.0, 0))
        return TensorInfo(d["name"], d["index"], tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"]),
                          float(scale), int(zero))

    def quantize(self, x: np.ndarray, info: TensorInfo) -> np.ndarray:
        if not info.quantized:
            return x.astype(info.dtype, copy=False)
        limits = np.iinfo(info.dtype)
        q = np.round(x / info.scale) + info.zero_point
        return np.clip(q, limits.min, limits.max).astype(info.dtype)

    @staticmethod
    def dequantize(q: np.ndarray, info: TensorInfo) -> np.ndarray:
        if not info.quantized:
            return q.astype(np.float32, copy=False)
        return (q.astype(np.float32) - info.zero_point) * info.scale

    def run(self, *inputs: np.ndarray) -> list[np.ndarray]:
        """Run once; each input is real-valued with the model's input shape (batch included)."""
        if len(inputs) != len(self.inputs):
            raise ValueError(f"{self.path.name}: expects {len(self.inputs)} inputs, got {len(inputs)}")
        for x, info in zip(inputs, self.inputs):
            if tuple(x.shape) != info.shape:
                raise ValueError(f"{self.path.name}: input {info.name} wants shape {info.shape}, got {x.shape}")
            self._it.set_tensor(info.index, self.quantize(x, info))
        self._it.invoke()
        return [self.dequantize(self._it.get_tensor(o.index), o) for o in self.outputs]
