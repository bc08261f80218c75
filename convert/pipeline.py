"""The model-independent half of `python -m convert <model>`: convert, evaluate, compare, ship.

A model module (convert/expression.py, later the attribute model) only loads its network and data
into a `ModelSpec` and `EvalData`; everything that must be identical across models (float vs int8
metrics on the same arrays, parity, the manifest entry, the shipped file appearing only after every
check passed) lives here once.
"""
from __future__ import annotations

import argparse
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from convert import int8, manifest
from convert.manifest import InputSpec
from edge.perceive.classify import DEFAULT_MODELS_DIR
from training.metrics import summarize

log = logging.getLogger("convert")


def add_val_only(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--val-only", action="store_true",
                    help="score val only: for comparing a candidate in a scratch --out before choosing it")


def scored_splits(args: argparse.Namespace) -> tuple[str, ...]:
    """The splits to score. A candidate is compared on val before anyone sees its test figures;
    a shipped entry needs them, so --val-only is refused for the shipped folder."""
    if not args.val_only:
        return ("val", "test")
    if args.out.resolve() == DEFAULT_MODELS_DIR.resolve():
        raise ValueError(f"--val-only writes an entry without test metrics; give a scratch --out, not {args.out}")
    return ("val",)


@dataclass
class ModelSpec:
    """A trained network and what the edge needs to feed it and read it."""

    name: str  # manifest key; files are <name>_int8.tflite / <name>_float.tflite
    model: nn.Module
    heads: dict[str, list[str]]  # head -> class names, in the model's output order
    input: InputSpec
    training: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalData:
    """Model-ready float NHWC arrays; labels per head (-1 = unlabelled, skipped in metrics)."""

    calib: np.ndarray
    x: dict[str, np.ndarray]  # split -> inputs
    y: dict[str, dict[str, np.ndarray]]  # split -> head -> labels
    parity_x: np.ndarray
    source: str = ""
    fingerprint: str = ""


def head_metrics(probs: dict[str, np.ndarray], labels: dict[str, np.ndarray],
                 classes: dict[str, list[str]]) -> dict[str, Any]:
    """training.metrics.summarize per head; a single head is returned unwrapped (the manifest's
    single-model shape), several as {head: metrics}."""
    out: dict[str, Any] = {}
    for h, p in probs.items():
        y = labels[h]
        keep = y >= 0
        if p.shape[-1] == 1:  # sigmoid head: summarize wants one column per class
            p = np.concatenate([1 - p, p], -1)
        m = summarize(y[keep], p[keep], classes[h])
        m.pop("score", None)  # selection's alias of accuracy; noise in a manifest
        m["n"] = int(keep.sum())
        out[h] = m
    return next(iter(out.values())) if len(out) == 1 else out


def build(spec: ModelSpec, data: EvalData, run_dir: Path, out_dir: Path,
          bench_runs: int = 200, flip: bool = True) -> dict[str, Any]:
    """Convert, evaluate, check parity, then copy the int8 file into out_dir and write its entry.

    Work files go to run_dir; out_dir (what the edge and git see) changes only at the end.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    head_names = list(spec.heads)
    model = spec.model.eval()
    fl = int8.to_float_tflite(model, data.calib[:16], run_dir / f"{spec.name}_float.tflite", head_names)
    log.info("float tflite: %s (%.1f MB, %.1f s)", fl.path, fl.bytes / 1e6, fl.seconds)
    q = int8.to_int8_tflite(model, data.calib, run_dir / f"{spec.name}_int8.tflite", head_names)
    log.info("int8 tflite: %s (%.2f MB, %.1f s, outputs %s by %s)", q.path, q.bytes / 1e6, q.seconds,
             q.outputs, q.mapping)

    metrics: dict[str, Any] = {}
    variants = [("float", False), ("int8", False)] + ([("float_flip", True), ("int8_flip", True)] if flip else [])
    for variant, use_flip in variants:
        metrics[variant] = {}
        for split, x in data.x.items():
            if variant.startswith("float"):
                probs = int8.run_torch(model, x, head_names, flip=use_flip)
            else:
                probs = int8.run_tflite(q.path, x, q.outputs, flip=use_flip)
            metrics[variant][split] = head_metrics(probs, data.y[split], spec.heads)
        log.info("evaluated %s", variant)

    par = int8.parity(model, q.path, data.parity_x, q.outputs, head_names)
    par_float = int8.parity(model, fl.path, data.parity_x, fl.outputs, head_names)
    par["float_tflite"] = {k: par_float[k] for k in ("agreement", "max_abs_prob_diff")}
    bench = int8.benchmark(q.path, runs=bench_runs) if bench_runs else {}

    levels = int8.input_levels(q.input, spec.input.pixel_scale, spec.input.pixel_offset)
    if levels < 250:
        log.warning("int8 input reaches only %d of 256 pixel levels (scale %g, zero point %d)",
                    levels, q.input["scale"], q.input["zero_point"])

    out_dir.mkdir(parents=True, exist_ok=True)
    shipped = out_dir / q.path.name
    shutil.copyfile(q.path, shipped)
    first = head_names[0]
    entry = {
        "file": shipped.name,
        "classes": spec.heads[first],
        "outputs": q.manifest_outputs(spec.heads),
        "input": {**spec.input.to_dict(), "dtype": q.input["dtype"],
                  "quantization": {"scale": q.input["scale"], "zero_point": q.input["zero_point"]}},
        "metrics": metrics,
        "parity": par,
        "training": spec.training,
        "eval_data": {"source": data.source, "fingerprint": data.fingerprint,
                      "splits": {s: int(len(x)) for s, x in data.x.items()}},
        "conversion": {"tool": q.tool, "torch": torch.__version__, "calibration_images": q.calibration_images,
                       "seconds": q.seconds, "output_mapping": q.mapping, "input_levels": levels,
                       "host_benchmark": bench},
    }
    stored = manifest.write_entry(out_dir / "manifest.json", spec.name, entry)
    problems = manifest.verify(out_dir / "manifest.json")
    if problems:
        raise RuntimeError("manifest verification failed: " + "; ".join(problems))
    return stored


def table(name: str, entry: dict[str, Any]) -> str:
    """A compact text summary of an entry (single-head models; multi-head prints the first head)."""
    conv, par = entry["conversion"], entry["parity"]
    bench = conv.get("host_benchmark") or {}
    width = max([12, *(len(v) + 1 for v in entry["metrics"])])
    lines = [
        f"{name}: {entry['file']}  {entry['bytes'] / 1e6:.2f} MB  int8 conversion {conv['seconds']:.1f} s  "
        f"{bench.get('median_ms', float('nan')):.2f} ms/inference (this host, {bench.get('threads', 1)} thread)",
        f"{'':{width}}{'val acc':>9}{'val F1':>9}{'test acc':>10}{'test F1':>9}",
    ]
    for variant, by_split in entry["metrics"].items():
        cells = []
        for split in ("val", "test"):
            m = by_split.get(split, {})
            if m and "accuracy" not in m:  # multi-head: show the first head
                m = next(iter(m.values()))
            cells += [m.get("accuracy", float("nan")), m.get("macro_f1", float("nan"))]
        lines.append(f"{variant:{width}}{cells[0]:9.4f}{cells[1]:9.4f}{cells[2]:10.4f}{cells[3]:9.4f}")
    lines.append(f"parity on {par['n']} val images: int8 agreement {par['agreement']:.4f}, max |dp| "
                 f"{par['max_abs_prob_diff']:.4f}; float tflite agreement {par['float_tflite']['agreement']:.4f}, "
                 f"max |dp| {par['float_tflite']['max_abs_prob_diff']:.4f}")
    return "\n".join(lines)
