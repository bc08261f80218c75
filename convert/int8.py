"""PyTorch -> TFLite (float and full-integer int8), output-head mapping, parity and evaluation.

What worked (litert-torch 0.10.0, torch 2.13, torchao pt2e), and why it is done this way:

    ep = torch.export.export(model, (x2,), dynamic_shapes=({0: Dim("batch")},)).module()
    q = PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False))
    ep = torchao.quantization.pt2e.quantize_pt2e.prepare_pt2e(ep, q)
    for batch in calib: ep(batch)                       # HistogramObserver on activations
    ep = quantize_pt2e.convert_pt2e(ep, fold_quantize=False)
    litert_torch.convert(ep, (x1,), quant_config=QuantConfig(pt2e_quantizer=q)).export(path)

* The default static PT2E path already gives a FULL integer model: int8 input and output tensors
  (the q/dq pair the quantizer puts on the graph's placeholder and outputs is folded into the I/O
  tensors by litert's STATIC qdq conversion mode), int8 per-channel conv/FC kernels, int32 biases,
  no QUANTIZE/DEQUANTIZE op left. No TF converter flags and no ai-edge-quantizer pass are needed.
  `_check_full_integer` still inspects every op and fails loudly if a float tensor remains, because
  a model with one unsupported op would otherwise silently fall back to float on the Pi.
* Export with a dynamic batch for calibration only: observers then see batches of 100 instead of
  1000 single-image calls; litert then re-exports the converted graph with a batch-1 sample, so
  the .tflite has a static (1, H, W, C) input like the edge feeds. For ExpressionNet at 1 thread
  (on a 2-core box shared with training) that is export 0.5 s + calibration 3 s + lowering 2.5 s.
* The model is wrapped to return a dict {head: logits}: litert names each output tensor
  "serving_default_<head>_output", so the head -> output-index map is read from the file rather
  than guessed from an order the converter does not promise; a probe run against PyTorch then
  confirms the map (and alone decides it if names are ever missing).
* The input tensor's scale/zero point come from calibration (about 2/255 and 0 for [-1, 1] pixels);
  the edge quantizes with the tensor's own parameters (edge.runtime), so nothing is hard-coded.
"""
from __future__ import annotations

import itertools
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from edge.runtime import TensorInfo, TFLiteModel
from training.tflite_eval import run_tflite, to_labels, to_probs  # noqa: F401 (used here and by convert's callers)

log = logging.getLogger("convert")

MIN_CALIBRATION = 500
SIGNATURE = "serving_default"


class ConversionError(RuntimeError):
    """The converted file is not what the Pi needs (float I/O, float ops, unmatched heads)."""


# ---------------------------------------------------------------------------------------------
# heads


class _Named(nn.Module):
    """Any model -> one that returns {head: tensor}, so litert names output tensors after heads."""

    def __init__(self, model: nn.Module, head_names: Sequence[str] | None):
        super().__init__()
        self.model = model
        self.head_names = list(head_names) if head_names else None

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return as_heads(self.model(x), self.head_names)


def as_heads(out: Any, head_names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """A tensor, tuple/list or dict of tensors -> an ordered {head: tensor}.

    A single tensor is named head_names[0] (default "output"), a tuple's items head_names[i]
    (default "output_<i>"), a dict keeps its own keys (head_names, if given, must match them).
    """
    if isinstance(out, Mapping):
        heads = dict(out)
        if head_names is not None and list(head_names) != list(heads):
            raise ValueError(f"head_names {list(head_names)} differ from the model's dict keys {list(heads)}")
        return heads
    if isinstance(out, torch.Tensor):
        return {(head_names[0] if head_names else "output"): out}
    if isinstance(out, (tuple, list)):
        names = list(head_names) if head_names else [f"output_{i}" for i in range(len(out))]
        if len(names) != len(out):
            raise ValueError(f"{len(out)} outputs but {len(names)} head names")
        return dict(zip(names, out))
    raise TypeError(f"model output of type {type(out).__name__} is not a tensor, tuple or dict")


# ---------------------------------------------------------------------------------------------
# conversion


@dataclass
class ConversionResult:
    """What the manifest needs to know about one converted file."""

    path: Path
    kind: str  # "float" or "int8"
    seconds: float
    bytes: int
    outputs: dict[str, int]  # head -> index into TFLiteModel.outputs
    input: dict[str, Any]  # shape, dtype, scale, zero_point of the one input tensor
    calibration_images: int = 0
    mapping: str = ""  # how `outputs` was established
    tool: str = field(default_factory=lambda: tool_version())

    def manifest_outputs(self, classes: Mapping[str, Sequence[str]] | None = None) -> dict[str, dict[str, Any]]:
        """The manifest's "outputs" block: head -> {index, classes}."""
        classes = classes or {}
        return {h: {"index": i, **({"classes": list(classes[h])} if h in classes else {})}
                for h, i in self.outputs.items()}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def tool_version() -> str:
    try:
        from importlib.metadata import version

        return f"litert-torch {version('litert-torch')}"
    except Exception:  # metadata missing in an odd install: the name still helps
        return "litert-torch"


def _litert():
    """Imported lazily: litert_torch pulls TF-sized dependencies that manifest users never need."""
    import litert_torch

    litert_torch.config.show_progress = False
    return litert_torch


def _as_tensor(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(x) if not isinstance(x, torch.Tensor) else x
    return t.detach().float().cpu().contiguous()


def to_float_tflite(model: nn.Module, sample_nhwc: np.ndarray | torch.Tensor, out_path: str | Path,
                    head_names: Sequence[str] | None = None) -> ConversionResult:
    """Float32 TFLite with a batch-1 input: the reference that separates converter error from int8 error.

    The first sample traces the model; all of them probe the head -> output map.
    """
    litert_torch = _litert()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    named = _Named(model.eval(), head_names).eval()
    x1 = _as_tensor(sample_nhwc)[:1]
    t0 = time.monotonic()
    with torch.no_grad():
        litert_torch.convert(named, (x1,)).export(str(out_path))
    seconds = time.monotonic() - t0
    outputs, how = match_outputs(named, out_path, _as_tensor(sample_nhwc))
    tm = TFLiteModel(out_path)
    return ConversionResult(out_path, "float", round(seconds, 2), out_path.stat().st_size, outputs,
                            _input_info(tm.inputs[0]), 0, how)


def to_int8_tflite(model: nn.Module, calib_nhwc: np.ndarray | torch.Tensor, out_path: str | Path,
                   head_names: Sequence[str] | None = None, calib_batch: int = 100,
                   min_calibration: int = MIN_CALIBRATION) -> ConversionResult:
    """Full-integer int8 TFLite calibrated on `calib_nhwc` (real training inputs, already scaled).

    Raises ConversionError unless input, output and every op tensor is integer.
    """
    from litert_torch.quantize import pt2e_quantizer as pq
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import quantize_pt2e

    litert_torch = _litert()
    calib = _as_tensor(calib_nhwc)
    if len(calib) < min_calibration:
        raise ValueError(f"calibration needs >= {min_calibration} images, got {len(calib)}: "
                         "fewer under-sample the activation histograms and clip real faces")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    named = _Named(model.eval(), head_names).eval()
    quantizer = pq.PT2EQuantizer().set_global(
        pq.get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False))
    t0 = time.monotonic()
    with torch.no_grad():
        try:
            batch_dim = torch.export.Dim("batch", min=1, max=max(2, len(calib)))
            graph = torch.export.export(named, (calib[:2],), dynamic_shapes=({0: batch_dim},)).module()
        except Exception as e:  # a model that bakes its batch size in: calibrate one image at a time
            log.warning("dynamic-batch export failed (%s); calibrating with batch 1", str(e).splitlines()[0])
            graph, calib_batch = torch.export.export(named, (calib[:1],)).module(), 1
        t_export = time.monotonic()
        graph = quantize_pt2e.prepare_pt2e(graph, quantizer)
        for i in range(0, len(calib), calib_batch):
            graph(calib[i:i + calib_batch])
        t_calib = time.monotonic()
        graph = quantize_pt2e.convert_pt2e(graph, fold_quantize=False)
        # An exported GraphModule keeps training=True although it was traced in eval mode (dropout
        # already gone, BN folded to inference); clear the flag so litert does not warn about it.
        for module in graph.modules():
            module.training = False
        edge_model = litert_torch.convert(graph, (calib[:1],), quant_config=QuantConfig(pt2e_quantizer=quantizer))
        edge_model.export(str(out_path))
    seconds = time.monotonic() - t0
    log.debug("int8: export %.1f s, calibration %.1f s, lower+write %.1f s",
              t_export - t0, t_calib - t_export, time.monotonic() - t_calib)
    _check_full_integer(out_path)
    outputs, how = match_outputs(named, out_path, calib[: min(len(calib), 64)])
    tm = TFLiteModel(out_path)
    return ConversionResult(out_path, "int8", round(seconds, 2), out_path.stat().st_size, outputs,
                            _input_info(tm.inputs[0]), len(calib), how)


def _input_info(info: TensorInfo) -> dict[str, Any]:
    return {"shape": list(info.shape), "dtype": str(info.dtype), "scale": info.scale, "zero_point": info.zero_point}


def input_levels(input_quant: Mapping[str, Any], pixel_scale: float, pixel_offset: float) -> int:
    """How many distinct int8 values the 256 pixel values reach through edge.runtime's quantize.

    An input scale of exactly 1/127.5 with zero point 0 puts every pixel on a .5 boundary, and
    np.round's half-to-even then merges pixel pairs: a silent 7-bit input. Calibration normally
    lands just off that scale (255 levels); this makes the difference visible in the manifest.
    """
    scale, zero = float(input_quant["scale"]), int(input_quant["zero_point"])
    if scale == 0.0:
        return 256
    x = np.arange(256, dtype=np.float32) * np.float32(pixel_scale) + np.float32(pixel_offset)
    q = np.clip(np.round(x / np.float32(scale)) + zero, -128, 127)
    return int(len(np.unique(q)))


def _check_full_integer(path: Path) -> None:
    """int8 I/O and no float tensor on any op: anything else runs (partly) in float on the Pi."""
    tm = TFLiteModel(path)
    bad_io = [f"{t.name}: {t.dtype}" for t in tm.inputs + tm.outputs if t.dtype != np.int8]
    if bad_io:
        raise ConversionError(f"{path.name}: not full-integer, float/non-int8 I/O tensors: {', '.join(bad_io)}")
    float_ops = [f"{op} ({dt})" for op, dt in op_dtypes(path) if dt.kind == "f"]
    if float_ops:
        raise ConversionError(f"{path.name}: not full-integer, float tensors on ops: {', '.join(sorted(set(float_ops)))}")


def op_dtypes(path: str | Path) -> list[tuple[str, np.dtype]]:
    """(op name, dtype) for every tensor each op touches, read without the XNNPACK delegate
    (a delegated graph hides its ops behind one DELEGATE node)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_path=str(path),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    dtypes = {t["index"]: np.dtype(t["dtype"]) for t in it.get_tensor_details()}
    rows: list[tuple[str, np.dtype]] = []
    for op in it._get_ops_details():  # the only op-level view the Python interpreter offers
        for i in list(op["inputs"]) + list(op["outputs"]):
            if i >= 0:
                rows.append((op["op_name"], dtypes[i]))
    return rows


# ---------------------------------------------------------------------------------------------
# output mapping


def match_outputs(named: nn.Module, tflite_path: str | Path, probe_nhwc: torch.Tensor,
                  probes: int = 16) -> tuple[dict[str, int], str]:
    """head -> TFLite output index, from tensor names, checked (or decided) by probing PyTorch.

    The probe compares each output with each same-shaped head over a few real inputs and picks the
    assignment with the smallest normalised error; int8 noise is far smaller than the gap between
    two different heads of a trained model.
    """
    tm = TFLiteModel(tflite_path)
    x = probe_nhwc[:probes]
    with torch.no_grad():
        ref = {h: t.float().numpy() for h, t in named(x).items()}
    heads = list(ref)
    got = [np.concatenate([tm.run(x[i:i + 1].numpy())[j] for i in range(len(x))]) for j in range(len(tm.outputs))]
    if len(got) != len(heads):
        raise ConversionError(f"{Path(tflite_path).name}: {len(got)} outputs for heads {heads}")

    def cost(h: str, j: int) -> float:
        a, b = ref[h], got[j]
        if a.shape != b.shape:
            return np.inf
        return float(np.abs(a - b).mean() / (a.std() + 1e-6))

    by_name: dict[str, int] = {}
    for j, info in enumerate(tm.outputs):
        m = re.fullmatch(rf"{SIGNATURE}_(.+)_output(?::\d+)?", info.name)
        if m and m.group(1) in ref:
            by_name[m.group(1)] = j
    by_probe = _best_assignment(heads, len(got), cost)
    if len(by_name) == len(heads) and len(set(by_name.values())) == len(heads):
        if by_probe is not None and by_probe != by_name:
            log.warning("%s: output names %s and probe %s disagree; trusting names",
                        Path(tflite_path).name, by_name, by_probe)
            return by_name, "tensor names (probe disagreed)"
        return by_name, "tensor names, confirmed by probe"
    if by_probe is None:
        raise ConversionError(f"{Path(tflite_path).name}: cannot match outputs "
                              f"{[o.shape for o in tm.outputs]} to heads { {h: a.shape for h, a in ref.items()} }")
    return by_probe, "probe"


def _best_assignment(heads: list[str], n_out: int, cost) -> dict[str, int] | None:
    """Brute force over permutations: a model has a handful of heads at most."""
    if len(heads) > 8:
        raise ValueError("more than 8 heads: use named tensors, the probe search is factorial")
    best, best_cost = None, np.inf
    for perm in itertools.permutations(range(n_out), len(heads)):
        c = sum(cost(h, j) for h, j in zip(heads, perm))
        if c < best_cost:
            best, best_cost = dict(zip(heads, perm)), c
    return best


# ---------------------------------------------------------------------------------------------
# running, parity, evaluation


def run_torch(model: nn.Module, x_nhwc: np.ndarray | torch.Tensor, head_names: Sequence[str] | None = None,
              flip: bool = False, batch_size: int = 256) -> dict[str, np.ndarray]:
    """PyTorch float probabilities per head, with the same softmax/sigmoid and flip rule as run_tflite."""
    x = _as_tensor(x_nhwc)
    model.eval()
    res: dict[str, list[np.ndarray]] = {}
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            heads = as_heads(model(xb), head_names)
            heads_f = as_heads(model(torch.flip(xb, dims=[2])), head_names) if flip else None
            for h, t in heads.items():
                p = to_probs(t.float().numpy())
                if heads_f is not None:
                    p = (p + to_probs(heads_f[h].float().numpy())) / 2
                res.setdefault(h, []).append(p)
    return {h: np.concatenate(v) for h, v in res.items()}


def parity(torch_model: nn.Module, tflite_path: str | Path, x_nhwc: np.ndarray | torch.Tensor,
           outputs: Mapping[str, int] | None = None, head_names: Sequence[str] | None = None) -> dict[str, Any]:
    """How far the .tflite is from the PyTorch float model on the same inputs.

    Per head: argmax agreement rate and max/mean absolute difference of probabilities. The top-level
    `agreement` is the worst head's and `max_abs_prob_diff` the largest over heads.
    """
    if outputs is None:
        outputs, _ = match_outputs(_Named(torch_model, head_names), tflite_path, _as_tensor(x_nhwc))
    ref = run_torch(torch_model, x_nhwc, head_names)
    got = run_tflite(tflite_path, x_nhwc, outputs)
    heads: dict[str, dict[str, float]] = {}
    for h in outputs:
        diff = np.abs(ref[h] - got[h])
        heads[h] = {
            "agreement": round(float((to_labels(ref[h]) == to_labels(got[h])).mean()), 4),
            "max_abs_prob_diff": round(float(diff.max()), 4),
            "mean_abs_prob_diff": round(float(diff.mean()), 5),
        }
    return {
        "n": int(len(x_nhwc)),
        "agreement": min(v["agreement"] for v in heads.values()),
        "max_abs_prob_diff": max(v["max_abs_prob_diff"] for v in heads.values()),
        "heads": heads,
    }


def benchmark(tflite_path: str | Path, runs: int = 200, num_threads: int = 1, warmup: int = 20) -> dict[str, float]:
    """Median and p90 ms per invoke through edge.runtime (quantize + invoke + dequantize), on this host."""
    tm = TFLiteModel(tflite_path, num_threads)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, tm.inputs[0].shape).astype(np.float32)
    for _ in range(warmup):
        tm.run(x)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        tm.run(x)
        times.append((time.perf_counter() - t0) * 1000)
    return {"median_ms": round(float(np.median(times)), 3), "p90_ms": round(float(np.percentile(times, 90)), 3),
            "runs": runs, "threads": num_threads}
