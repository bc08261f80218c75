"""Ship the expression model: runs/expression/best.pt -> models_tflite/expression_int8.tflite + manifest.

    python -m convert expression --run runs/expression --out models_tflite [--data ...] [--crop-json '{...}']
        [--views 4] [--gap runs/expression/gap_*.json] [--edge-crops runs/edge_crops/val.npz] [--val-only]

Besides the pipeline's float/int8 (plain and flip) metrics, the shipped file is scored the way the
mirror runs it - the edge Classifier with its test-time views on the raw faces, T applied by the edge
- and the edge-path measurements of `training.edge_gap` are attached, so the manifest says what the
Pi gets, not only what the network does. With --edge-crops it also scores the val faces the mirror's
own path cut out (`training.edge_crops`) and prints the selection score: the mean of the two, on val.

Only what is specific to ExpressionNet lives here (its checkpoint, FER2013 splits, grey 48x48 input);
conversion, evaluation and the manifest are convert.pipeline's.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from convert import manifest
from convert.manifest import InputSpec
from convert.pipeline import EvalData, ModelSpec, add_val_only, build, head_metrics, scored_splits, table
from edge.classify import Classifier, read_manifest
from training import fer
from training.expression import DEFAULT_DATA, PIXEL_OFFSET, PIXEL_SCALE, require_same_rows, to_input
from training.nets import ExpressionNet, load_expression_net

log = logging.getLogger("convert")

NAME = "expression"
DEFAULT_CROP: dict[str, Any] = {"kind": "eyes_aligned", "scale": 1.0, "shift_y": 0.0}


def load_model(run_dir: Path) -> ExpressionNet:
    """best.pt is the EMA state_dict; a last.pt-style checkpoint dict is accepted for its EMA weights."""
    path = run_dir / "best.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint (train with python -m training.expression first)")
    return load_expression_net(path)


def training_info(run_dir: Path, expected_fingerprint: str) -> dict[str, Any]:
    """From train_summary.json when training wrote one; the date is when the checkpoint was written."""
    summary_path = run_dir / "train_summary.json"
    summary: dict[str, Any] = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    if not summary:
        log.warning("%s missing: training provenance will be incomplete", summary_path)
    stamp = summary_path if summary_path.is_file() else run_dir / "best.pt"
    info = {
        "command": summary.get("command"),
        "data_fingerprint": summary.get("data_fingerprint"),
        "wall_seconds": summary.get("wall_seconds"),
        "date": dt.date.fromtimestamp(stamp.stat().st_mtime).isoformat(),
        "epochs": summary.get("epochs_run"),
        "best_epoch": summary.get("best_epoch"),
        "parameters": summary.get("parameters"),
    }
    if summary.get("init"):  # a later cycle: where it started and what came before
        info["init"] = summary["init"]
        info["earlier_cycles"] = [{k: r.get(k) for k in ("command", "wall_seconds", "epochs_run", "best_epoch")}
                                  for r in summary.get("lineage", [])]
        info["total_wall_seconds"] = summary.get("total_wall_seconds")
    if summary.get("teacher"):
        info["teacher"] = summary["teacher"]
    fp = info["data_fingerprint"]
    if fp and fp != expected_fingerprint:
        log.warning("trained on data %s... but evaluating on %s...: metrics are not on the training splits",
                    fp[:12], expected_fingerprint[:12])
    return info


def choose_crop(crop_json: str | None, manifest_path: Path) -> tuple[dict[str, Any], str]:
    """--crop-json wins; else keep the crop already in the manifest (it is tuned on the Pi, and a
    re-conversion must not silently reset it); else the default."""
    if crop_json:
        crop, source = json.loads(crop_json), "--crop-json"
    else:
        current = manifest.read(manifest_path).get(NAME, {}).get("input", {}).get("crop")
        crop, source = (current, "existing manifest") if current else (dict(DEFAULT_CROP), "default")
    if not isinstance(crop, dict):
        raise ValueError(f"crop must be a JSON object, got {crop!r}")
    try:  # the edge's parser is the authority on what a crop rule may say
        from edge.crop import CropRule

        CropRule.from_manifest(crop)
    except ImportError:
        pass
    return crop, source


def load_data(path: Path, calib_n: int, parity_n: int, seed: int,
              splits_scored: tuple[str, ...] = ("val", "test")) -> EvalData:
    """Calibration from train and parity from val, both drawn with a fixed seed so reruns match."""
    splits = fer.load(path)
    rng = np.random.default_rng(seed)
    train = splits.x["train"]
    calib_idx = np.sort(rng.choice(len(train), size=min(calib_n, len(train)), replace=False))
    val = splits.x["val"]
    parity_idx = np.sort(rng.choice(len(val), size=min(parity_n, len(val)), replace=False))
    return EvalData(
        calib=to_input(train[calib_idx]).numpy(),
        x={s: to_input(splits.x[s]).numpy() for s in splits_scored if len(splits.x[s])},
        y={s: {NAME: splits.y[s]} for s in splits_scored if len(splits.x[s])},
        parity_x=to_input(val[parity_idx]).numpy(),
        source=splits.source,
        fingerprint=splits.fingerprint,
    )


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--run", type=Path, default=Path("runs/expression"), help="training run with best.pt")
    ap.add_argument("--out", type=Path, default=Path("models_tflite"), help="folder with manifest.json")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="fer2013.npz, fer2013.csv or a folder")
    ap.add_argument("--crop-json", default=None, help='crop rule, e.g. \'{"kind": "eyes_aligned", "scale": 1.0}\'')
    ap.add_argument("--calib", type=int, default=1000, help="calibration images drawn from train")
    ap.add_argument("--parity", type=int, default=500, help="val images for the PyTorch/TFLite parity check")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bench-runs", type=int, default=200, help="timed invokes at 1 thread; 0 skips")
    ap.add_argument("--no-flip", action="store_true", help="skip the flip-averaged evaluations")
    ap.add_argument("--views", type=int, choices=(1, 2, 4), default=4,
                    help="also score the shipped file through the edge classifier with these test-time views")
    add_val_only(ap)
    ap.add_argument("--gap", type=Path, nargs="*", default=[],
                    help="JSON results of training.edge_gap to record as the edge path's accuracy")
    ap.add_argument("--edge-crops", type=Path, help="val faces cut the edge's way (training.edge_crops --split val): "
                    "scored with the views, and the selection score printed")


def shipped_classifier(out_dir: Path, views: int) -> Classifier:
    """The written file as the mirror runs it: edge.classify with its views, T and int8 model."""
    return Classifier(NAME, read_manifest(out_dir)[NAME], out_dir, 1, views=views)


def score_faces(clf: Classifier, faces: np.ndarray, labels: np.ndarray, preprocessed: bool = False) -> dict[str, Any]:
    probs = np.stack([clf.probabilities(f, preprocessed=preprocessed)[NAME] for f in faces])
    return head_metrics({NAME: probs}, {NAME: labels.astype(int)}, {NAME: list(fer.CLASSES)})


def edge_metrics(clf: Classifier, data_path: Path, splits_scored: tuple[str, ...] = ("val", "test")) -> dict[str, Any]:
    """The shipped model through edge.classify (views, T, quantization as on the Pi) on raw faces."""
    z = np.load(data_path) if data_path.suffix == ".npz" else None
    if z is None or "test_x_raw" not in z:
        log.warning("%s has no raw faces: edge-classifier metrics skipped", data_path)
        return {}
    out: dict[str, Any] = {"note": f"edge Classifier with {clf.views} test-time view(s) on the raw 48x48 faces"}
    for split in splits_scored:
        out[split] = score_faces(clf, z[f"{split}_x_raw"], z[f"{split}_y"])
    return out


def load_edge_cut(crops_path: Path, val_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The val faces BlazeFace found and the crop rule cut (`training.edge_crops --split val`, first
    copy), stored after T; checked against val before minutes of conversion, not after."""
    try:
        z = np.load(crops_path)
        crops, found, labels = z["crops"], z["found"], z["labels"]
    except (OSError, KeyError) as e:
        raise ValueError(f"{crops_path}: not an edge-crops file of training.edge_crops ({e})") from None
    require_same_rows(labels, val_y, f"{crops_path}: the edge crops were cut", "training.edge_crops --split val")
    return crops[0][found[0]], labels[found[0]].astype(int)


def edge_cut_metrics(clf: Classifier, crops: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """The shipped file on the faces the mirror's own path cut out: half of the score cycles are chosen on."""
    return {"note": f"edge Classifier with {clf.views} view(s) on {len(crops)} val faces cut by the edge path "
                    "(training.edge_crops)",
            "val": score_faces(clf, crops, labels, preprocessed=True)}


def edge_path(gap_files: list[Path]) -> dict[str, Any]:
    return {f.stem: json.loads(f.read_text()) for f in gap_files} | (
        {"command": "python -m training.edge_gap --split val --sweep; --split test [--views 4]"} if gap_files else {})


def run(args: argparse.Namespace) -> int:
    manifest_path = args.out / "manifest.json"
    splits_scored = scored_splits(args)
    crop, crop_source = choose_crop(args.crop_json, manifest_path)
    log.info("crop rule from %s: %s", crop_source, crop)
    model = load_model(args.run)
    data = load_data(args.data, args.calib, args.parity, args.seed, splits_scored)
    cut_faces = load_edge_cut(args.edge_crops, data.y["val"][NAME]) if args.edge_crops else None
    spec = ModelSpec(
        name=NAME,
        model=model,
        heads={NAME: list(fer.CLASSES)},
        input=InputSpec(size=(48, 48), color="gray", pixel_scale=PIXEL_SCALE, pixel_offset=PIXEL_OFFSET,
                        preprocess=fer.PREPROCESS_NAME, crop=crop),
        training=training_info(args.run, data.fingerprint),
    )
    entry = build(spec, data, args.run, args.out, bench_runs=args.bench_runs, flip=not args.no_flip)
    clf = shipped_classifier(args.out, args.views) if args.views > 1 or cut_faces is not None else None
    extra = edge_metrics(clf, args.data, splits_scored) if args.views > 1 else {}
    cut = edge_cut_metrics(clf, *cut_faces) if cut_faces is not None else {}
    if extra or cut or args.gap:
        if extra:
            entry["metrics"][f"int8_views{args.views}"] = extra
        if cut:
            entry["metrics"][f"int8_views{args.views}_edge_cut"] = cut
        if args.gap:
            entry["edge_path"] = edge_path(args.gap)
        entry = manifest.write_entry(args.out / "manifest.json", NAME, entry)
    print(table(NAME, entry))
    if cut and extra:
        a, b = extra["val"]["accuracy"], cut["val"]["accuracy"]
        print(f"selection score (val, int8, {args.views} views): dataset crops {a:.4f}, edge-cut crops {b:.4f}, "
              f"mean {(a + b) / 2:.4f}")
    print(f"wrote {args.out / entry['file']} and {manifest_path}")
    return 0
