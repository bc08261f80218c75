"""The interpreter wrapper: real models load, bad files fail with one line naming the file."""
from __future__ import annotations

import numpy as np
import pytest

from edge.perceive.detect import SPECS
from edge.model_files import find_model_file
from edge.runtime import ModelError, TensorInfo, TFLiteModel


def test_float_model_runs_with_real_valued_io():
    m = TFLiteModel(find_model_file(SPECS["short"].file, SPECS["short"].sha256), num_threads=1)
    assert m.inputs[0].shape == (1, 128, 128, 3) and not m.inputs[0].quantized
    reg, cls = m.run(np.zeros((1, 128, 128, 3), np.float32))
    assert reg.shape == (1, 896, 16) and cls.shape == (1, 896, 1) and reg.dtype == np.float32


def test_int8_quantize_round_trip_uses_the_tensor_parameters():
    info = TensorInfo("x", 0, (1, 4), np.dtype(np.int8), scale=0.5, zero_point=-3)
    q = TFLiteModel.quantize(None, np.array([[-100.0, 0.0, 1.0, 100.0]]), info)  # type: ignore[arg-type]
    assert q.dtype == np.int8 and q.tolist() == [[-128, -3, -1, 127]]
    assert TFLiteModel.dequantize(q, info).tolist() == [[-62.5, 0.0, 1.0, 65.0]]
    u8 = TensorInfo("x", 0, (1, 2), np.dtype(np.uint8), scale=1 / 255, zero_point=0)
    assert TFLiteModel.quantize(None, np.array([0.0, 1.0]), u8).tolist() == [0, 255]  # type: ignore[arg-type]


def test_wrong_input_shape_is_named():
    m = TFLiteModel(find_model_file(SPECS["short"].file, SPECS["short"].sha256))
    with pytest.raises(ValueError, match=r"wants shape \(1, 128, 128, 3\)"):
        m.run(np.zeros((1, 64, 64, 3), np.float32))


@pytest.mark.parametrize("content, message", [
    (b"", "model file is empty"),
    (b"PK\x03\x04 this is a zip, not a model" * 10, "not a TFLite flatbuffer"),
])
def test_bad_model_files(tmp_path, content, message):
    p = tmp_path / "model.tflite"
    p.write_bytes(content)
    with pytest.raises(ModelError, match=message) as e:
        TFLiteModel(p)
    assert str(p) in str(e.value)


def test_truncated_model(tmp_path):
    good = find_model_file(SPECS["short"].file, SPECS["short"].sha256).read_bytes()
    p = tmp_path / "cut.tflite"
    p.write_bytes(good[: len(good) // 3])
    with pytest.raises(ModelError, match="cut.tflite"):
        TFLiteModel(p)


def test_missing_model(tmp_path):
    with pytest.raises(ModelError, match="model file not found"):
        TFLiteModel(tmp_path / "gone.tflite")
