"""Rebuild a shipped model's PyTorch weights from its int8 TFLite file, as a run folder.

    python -m training attributes-from-tflite --out runs/attributes_shipped
    python -m training expression-from-tflite --out runs/expression_shipped

Each shipped model is several training cycles (the attribute model 57 minutes of two cores, the
expression model 3.3 hours of one); their run folders stayed on the machines that trained them. The
int8 file still holds every weight (per-channel int8 convs with their folded BatchNorm, int8 dense
layers), so a further cycle can start from it instead of from scratch: each conv gets its
dequantized kernel, and its BatchNorm is set so that it passes the conv's output through plus the
folded bias, both in eval mode (running statistics) and in train mode (batch statistics close to the
running ones measured on `sample`), the way `nets.deepen` starts new convs.
The folder gets a `train_summary.json` whose lineage is the manifest's, so a cycle started from it
with `--init` counts the shipped model's training time.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edge.model_files import sha256_file
from training import attributes as attr
from training import expression as expr
from training import ferplus
from training.nets import AttributeNet, ExpressionNet, conv_stages
from training.trainer import predict

REPO = Path(__file__).resolve().parents[1]


def _dequantize(interp: Any, index: int) -> np.ndarray:
    """A constant tensor in float: int8 (per-channel along its quantized axis, or per-tensor) or int32 bias."""
    d = next(t for t in interp.get_tensor_details() if t["index"] == index)
    q = d["quantization_parameters"]
    value = interp.get_tensor(index).astype(np.float64)
    scales = np.asarray(q["scales"], np.float64)
    zeros = np.asarray(q["zero_points"], np.float64)
    if scales.size == 0:
        raise ValueError(f"tensor {d['name']} is not quantized")
    axis = int(q.get("quantized_dimension", 0))
    shape = tuple(-1 if a == axis else 1 for a in range(value.ndim)) if scales.size > 1 else ()
    return ((value - zeros.reshape(shape)) * scales.reshape(shape)).astype(np.float32)


def _interpreter(path: Path) -> tuple[Any, list[dict], list[dict]]:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(str(path))
    ops = interp._get_ops_details()
    # a conv with one input channel (the grey expression input) is converted to DEPTHWISE_CONV_2D
    convs = [o for o in ops if o["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    return interp, convs, [o for o in ops if o["op_name"] == "FULLY_CONNECTED"]


@torch.no_grad()
def net_from_tflite(path: Path, sample_nhwc: torch.Tensor) -> AttributeNet:
    """AttributeNet with the weights of an int8 AttributeNet file (convert.attributes' graph:
    8 CONV_2D, a transpose back to NCHW before the flatten, then the shared and three head layers)."""
    interp, convs, dense = _interpreter(path)
    net = AttributeNet(size=int(interp.get_input_details()[0]["shape"][1])).eval()
    layers = [net.shared[2]] + [net.heads[h] for h in _head_order(interp, dense[1:])]
    return _load(interp, convs, dense, net, layers, sample_nhwc, path)


@torch.no_grad()
def expression_net_from_tflite(path: Path, sample_nhwc: torch.Tensor) -> ExpressionNet:
    """ExpressionNet (the default shape) with the weights of an int8 file from convert.expression:
    8 CONV_2D, the flatten, then the 64-wide hidden layer and the logits."""
    interp, convs, dense = _interpreter(path)
    net = ExpressionNet(classes=int(interp.get_output_details()[0]["shape"][-1])).eval()
    return _load(interp, convs, dense, net, [net.head[2], net.head[5]], sample_nhwc, path)


def _load(interp: Any, convs: list[dict], dense: list[dict], net: nn.Module, layers: list[nn.Linear],
          sample_nhwc: torch.Tensor, path: Path) -> Any:
    pairs = [p for stage in conv_stages(net.features) for p in stage]
    kind = type(net).__name__
    if len(convs) != len(pairs) or len(dense) != len(layers):
        raise ValueError(f"{path}: {len(convs)} convs and {len(dense)} dense layers; {kind} has "
                         f"{len(pairs)} and {len(layers)}")
    biases = []
    for op, (conv, _bn) in zip(convs, pairs):
        kernel = torch.from_numpy(_dequantize(interp, op["inputs"][1]))
        # OHWI -> OIHW; a depthwise kernel of one input channel is 1HWO
        kernel = kernel.permute(3, 0, 1, 2) if op["op_name"] == "DEPTHWISE_CONV_2D" else kernel.permute(0, 3, 1, 2)
        if kernel.shape != conv.weight.shape:
            raise ValueError(f"{path}: conv kernel {tuple(kernel.shape)}, {kind} wants {tuple(conv.weight.shape)}")
        conv.weight.copy_(kernel)
        biases.append(torch.from_numpy(_dequantize(interp, op["inputs"][2])))
    for op, layer in zip(dense, layers):
        weight = torch.from_numpy(_dequantize(interp, op["inputs"][1]))
        if weight.shape != layer.weight.shape:
            raise ValueError(f"{path}: dense kernel {tuple(weight.shape)}, {kind} wants {tuple(layer.weight.shape)}")
        layer.weight.copy_(weight)
        layer.bias.copy_(torch.from_numpy(_dequantize(interp, op["inputs"][2])))
    # BatchNorm as "conv output + folded bias": measure each conv's output on the sample, then set
    # running stats to it and gamma/beta to undo the normalisation (eval and train mode agree).
    stats: dict[nn.Module, torch.Tensor] = {}
    for (conv, bn), bias in zip(pairs, biases):
        bn.running_mean.zero_()
        bn.running_var.fill_(1 - bn.eps)
        bn.weight.fill_(1.0)
        bn.bias.copy_(bias)
    hooks = [conv.register_forward_hook(lambda m, _i, out: stats.__setitem__(m, out)) for conv, _ in pairs]
    net(sample_nhwc)  # one pass: the new BN settings below compute the same function in eval mode
    for h in hooks:
        h.remove()
    for conv, bn in pairs:
        out = stats[conv]
        mean, var = out.mean(dim=(0, 2, 3)), out.var(dim=(0, 2, 3), unbiased=False)
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.weight.copy_((var + bn.eps).sqrt())
        bn.bias.add_(mean)
    return net


def _head_order(interp: Any, dense: list[dict]) -> list[str]:
    """Which head each of these dense layers feeds, from the output tensors' names."""
    names = {t["index"]: t["name"] for t in interp.get_tensor_details()}
    order = []
    for op in dense:
        name = names[op["outputs"][0]]
        head = next((h for h in sorted(AttributeNet().heads, key=len, reverse=True) if h in name), None)
        if head is None:
            raise ValueError(f"output tensor {name!r} names no head")
        order.append(head)
    return order


def _parser(task: str, tflite: str, extra: str | None = None) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=f"python -m training {task}-from-tflite", description=__doc__.splitlines()[0])
    ap.add_argument("--tflite", type=Path, default=REPO / "models_tflite" / tflite)
    ap.add_argument("--manifest", type=Path, default=REPO / "models_tflite" / "manifest.json")
    ap.add_argument("--out", type=Path, required=True, help="run folder to write best.pt and train_summary.json into")
    if extra:
        ap.add_argument(f"--{extra}", type=Path)
    return ap


def _write_run(args: argparse.Namespace, task: str, net: nn.Module, **extra: Any) -> None:
    """best.pt plus a train_summary.json whose lineage is the manifest's record of the shipped cycles."""
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), args.out / "best.pt")
    entry = json.loads(args.manifest.read_text()).get(task, {}).get("training", {})
    lineage = [{k: v for k, v in c.items()} for c in entry.get("earlier_cycles", [])]
    lineage.append({k: entry.get(k) for k in ("command", "best_epoch", "wall_seconds") if k in entry}
                   | {"epochs_run": entry.get("epochs")})
    tflite = args.tflite.relative_to(REPO) if args.tflite.is_relative_to(REPO) else args.tflite
    summary = {"command": f"python -m training {task}-from-tflite --tflite {tflite}",
               "from_tflite": {"path": str(args.tflite), "sha256": sha256_file(args.tflite)},
               "wall_seconds": 0.0, **extra, "lineage": lineage, "parameters": sum(p.numel() for p in net.parameters())}
    (args.out / "train_summary.json").write_text(json.dumps(summary, indent=1))


def _rebuild(args: argparse.Namespace, build: Any, sample: torch.Tensor) -> nn.Module | None:
    try:
        return build(args.tflite, sample)
    except (ValueError, RuntimeError) as e:
        print(f"error: {e}".splitlines()[0], file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    ap = _parser("attributes", "attributes_int8.tflite", extra="cache")
    args = ap.parse_args(argv)
    if not args.tflite.is_file():
        print(f"error: {args.tflite}: no such model file", file=sys.stderr)
        return 1
    data = attr.prepare(attr.DEFAULT_DATA, args.cache or attr.crop_cache(attr.SIZE), attr.SIZE)
    rng = np.random.default_rng(0)
    sample = attr.to_input(data.x["train"][rng.choice(len(data.x["train"]), 1024, replace=False)])
    net = _rebuild(args, net_from_tflite, sample)
    if net is None:
        return 1
    _write_run(args, "attributes", net, size=attr.SIZE)
    ev = attr.AttributesTask(data).evaluate(net, "val")
    print(json.dumps({"out": str(args.out / "best.pt"), "val_float": {h: ev[h]["accuracy"] for h in attr.CLASSES},
                      "val_score": round(ev["score"], 4)}))
    return 0


def expression_main(argv: list[str] | None = None) -> int:
    """The expression model's run folder; its val score (float, one view) is printed to compare
    with the manifest's before a further cycle starts from it."""
    ap = _parser("expression", "expression_int8.tflite", extra="data")
    args = ap.parse_args(argv)
    if not args.tflite.is_file():
        print(f"error: {args.tflite}: no such model file", file=sys.stderr)
        return 1
    splits = ferplus.load(args.data or expr.DEFAULT_DATA)
    train = splits["train"].x
    sample = expr.to_input(train[np.random.default_rng(0).choice(len(train), 1024, replace=False)])
    net = _rebuild(args, expression_net_from_tflite, sample)
    if net is None:
        return 1
    _write_run(args, "expression", net, data_fingerprint=splits.fingerprint)
    score = expr.ValSet.of(splits["val"]).score(predict(net, expr.to_input(splits["val"].x)))
    print(json.dumps({"out": str(args.out / "best.pt"), "val_float_ferplus": score["accuracy"],
                      "val_float_fer2013_macro_recall": score["fer2013_macro_recall"], "val_score": round(score["score"], 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
