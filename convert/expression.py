"""Ship the expression model: RUN/best.pt -> models_tflite/expression_int8.tflite + manifest.

    python -m convert expression --run runs/expression --out models_tflite [--views 4] [--gap FILE...]
    python -m convert expression --run runs/candidate --out /tmp/candidate --val-only

Besides the pipeline's float/int8 (plain and flip) metrics on the FER+ protocol, the shipped file is
scored the way the mirror runs it - the edge Classifier with its test-time views on the raw lossless
faces, T applied by the edge - by both selection measures (FER+ protocol accuracy, FER2013 macro recall
on its own labels); and contempt's gate (the confidence the mirror needs before it shows contempt) is
chosen on val and written into the manifest.

Only what is specific to ExpressionNet lives here; conversion, evaluation and the manifest are
convert.pipeline's.
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
from edge.perceive.classify import Classifier, apply_gate, read_manifest
from edge.perceive.preprocess import PREPROCESS
from edge.state import EXPRESSIONS
from training import ferplus
from training.expression import DEFAULT_DATA, PIXEL_OFFSET, PIXEL_SCALE, to_input
from training.nets import ExpressionNet, load_expression_net

log = logging.getLogger("convert")

NAME = "expression"
DEFAULT_CROP: dict[str, Any] = {"kind": "eyes_aligned", "scale": 1.0, "shift_y": 0.0}
GATED = "contempt"  # rare and easily confused with neutral: shown only above a confidence chosen on val
GATE_PRECISION = 0.6
# What the edge applies to a face before the model: the training transform (ferplus.PREPROCESS_NAME)
# without its 1.2 boost, which only clipped over-exposed faces; chosen on val (training/README.md).
SERVE_PREPROCESS = "equalizeHist(x)"


def load_model(run_dir: Path) -> ExpressionNet:
    path = run_dir / "best.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint (train with python -m training expression first)")
    return load_expression_net(path)


def training_info(run_dir: Path, expected_fingerprint: str) -> dict[str, Any]:
    """From train_summary.json when training wrote one; the date is when the checkpoint was written."""
    summary_path = run_dir / "train_summary.json"
    summary: dict[str, Any] = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    if not summary:
        log.warning("%s missing: training provenance will be incomplete", summary_path)
    stamp = summary_path if summary_path.is_file() else run_dir / "best.pt"
    info = {k: summary.get(k) for k in ("recipe", "settings", "command", "data_fingerprint", "wall_seconds",
                                         "device", "parameters") if k in summary or k in ("command", "wall_seconds")}
    info |= {"date": dt.date.fromtimestamp(stamp.stat().st_mtime).isoformat(),
             "epochs": summary.get("epochs_run"), "best_epoch": summary.get("best_epoch")}
    if summary.get("init"):  # a later cycle: where it started and what came before
        info["init"] = summary["init"]
        info["earlier_cycles"] = [{k: r.get(k) for k in ("command", "wall_seconds", "epochs_run", "best_epoch")}
                                  for r in summary.get("lineage", [])]
        info["total_wall_seconds"] = summary.get("total_wall_seconds")
    if summary.get("teacher"):
        info["teacher"] = summary["teacher"]
    fp = info.get("data_fingerprint")
    if fp and fp != expected_fingerprint:
        log.warning("trained on data %s... but evaluating on %s...: metrics are not on the training splits",
                    fp[:12], expected_fingerprint[:12])
    return info


def choose_crop(crop_json: str | None, manifest_path: Path) -> tuple[dict[str, Any], str]:
    """--crop-json wins; else keep the crop already in the manifest (a re-conversion must not
    silently reset it); else the default."""
    if crop_json:
        crop, source = json.loads(crop_json), "--crop-json"
    else:
        current = manifest.read(manifest_path).get(NAME, {}).get("input", {}).get("crop")
        crop, source = (current, "existing manifest") if current else (dict(DEFAULT_CROP), "default")
    if not isinstance(crop, dict):
        raise ValueError(f"crop must be a JSON object, got {crop!r}")
    from edge.perceive.crop import CropRule  # the edge's parser is the authority on what a crop rule may say

    CropRule.from_manifest(crop)
    return crop, source


def load_data(splits: ferplus.Splits, calib_n: int, parity_n: int, seed: int,
              splits_scored: tuple[str, ...] = ("val", "test")) -> EvalData:
    """FER+ protocol labels (-1 = dropped, not scored); calibration from train and parity from val,
    drawn with a fixed seed so reruns match."""
    rng = np.random.default_rng(seed)
    train, val = splits["train"].x, splits["val"].x
    calib_idx = np.sort(rng.choice(len(train), size=min(calib_n, len(train)), replace=False))
    parity_idx = np.sort(rng.choice(len(val), size=min(parity_n, len(val)), replace=False))
    return EvalData(
        calib=to_input(train[calib_idx]).numpy(),
        x={s: to_input(splits[s].x).numpy() for s in splits_scored},
        y={s: {NAME: splits[s].majority} for s in splits_scored},
        parity_x=to_input(val[parity_idx]).numpy(),
        source=splits.source,
        fingerprint=splits.fingerprint,
    )


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--run", type=Path, default=Path("runs/expression"), help="training run with best.pt")
    ap.add_argument("--out", type=Path, default=Path("models_tflite"), help="folder with manifest.json")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="ferplus.npz or fer2013new.csv")
    ap.add_argument("--pixels-csv", type=Path, help="fer2013.csv for fer2013new.csv's pixels")
    ap.add_argument("--crop-json", default=None, help='crop rule, e.g. \'{"kind": "eyes_aligned", "scale": 1.0}\'')
    ap.add_argument("--calib", type=int, default=1000, help="calibration images drawn from train")
    ap.add_argument("--parity", type=int, default=500, help="val images for the PyTorch/TFLite parity check")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bench-runs", type=int, default=200, help="timed invokes at 1 thread; 0 skips")
    ap.add_argument("--no-flip", action="store_true", help="skip the flip-averaged evaluations")
    ap.add_argument("--views", type=int, choices=(1, 2, 4), default=4,
                    help="score the shipped file through the edge classifier with these test-time views")
    add_val_only(ap)
    ap.add_argument("--gap", type=Path, nargs="*", default=[],
                    help="JSON results of training.edge_gap to record as the edge path's accuracy")
    ap.add_argument("--serve-preprocess", default=SERVE_PREPROCESS, choices=sorted(PREPROCESS),
                    help="what the edge applies to a face before the model (the manifest's input.preprocess); "
                         f"the training transform, {ferplus.PREPROCESS_NAME}, is recorded beside it")
    ap.add_argument("--rescore", action="store_true",
                    help="no conversion: score the file already in --out again the way the mirror runs it "
                         "(after a change to --serve-preprocess), contempt's gate chosen on val anew")


def edge_probabilities(clf: Classifier, raw: np.ndarray) -> np.ndarray:
    """The written file as the mirror runs it (views, T, int8), before any gate."""
    return np.stack([clf.probabilities(f, gate=False)[NAME] for f in raw])


def choose_gate(probs: np.ndarray, majority: np.ndarray, cls: str = GATED,
                precision: float = GATE_PRECISION) -> float:
    """The lowest confidence at which the class, when it is the answer, is right >= `precision` of
    the time on val; 1.0 (never shown) if no confidence gets there."""
    c = EXPRESSIONS.index(cls)
    keep = majority >= 0
    p, y = probs[keep], majority[keep]
    picked = p.argmax(1) == c
    for t in np.round(np.arange(0.0, 1.0, 0.01), 2):
        shown = picked & (p[:, c] >= t)
        if shown.sum() >= 3 and (y[shown] == c).mean() >= precision:
            return float(t)
    return 1.0


def view_metrics(probs: np.ndarray, part: ferplus.FerPlus) -> dict[str, Any]:
    m = head_metrics({NAME: probs}, {NAME: part.majority}, {NAME: list(EXPRESSIONS)})
    m["fer2013_macro_recall"] = round(ferplus.macro_recall_fer(part.fer_y, probs), 4)
    m["fer2013_recall"] = {c: round(float(r), 4) for c, r in ferplus.fer2013_recall(part.fer_y, probs).items()}
    return m


def gate_report(probs: np.ndarray, majority: np.ndarray, cls: str) -> dict[str, Any]:
    c = EXPRESSIONS.index(cls)
    keep = majority >= 0
    pred, y = probs[keep].argmax(1), majority[keep]
    shown = pred == c
    return {"shown": int(shown.sum()), "precision": round(float((y[shown] == c).mean()), 4) if shown.any() else None,
            "recall": round(float((pred[y == c] == c).mean()), 4), "n": int((y == c).sum())}


def edge_metrics(out_dir: Path, views: int, raw: ferplus.Splits, splits_scored: tuple[str, ...],
                 entry: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, float]]:
    """The shipped file through edge.perceive.classify with its views (as `entry` describes it; default: as the
    manifest in out_dir does); the gate chosen on val, then applied."""
    entry = entry or read_manifest(out_dir)[NAME]
    clf = Classifier(NAME, entry, out_dir, 1, views=views)
    probs = {s: edge_probabilities(clf, raw[s].x) for s in splits_scored}
    gate = {GATED: choose_gate(probs["val"], raw["val"].majority)}
    preprocess = entry["input"]["preprocess"]
    out: dict[str, Any] = {"note": f"edge Classifier with {views} test-time view(s) on the raw 48x48 FER+ faces, "
                                   f"{preprocess} applied by the edge; FER+ protocol labels; '{GATED}' shown only "
                                   f"at >= {gate[GATED]} (chosen on val for precision >= {GATE_PRECISION})"}
    for s in splits_scored:
        gated = apply_gate(probs[s], list(EXPRESSIONS), gate)
        out[s] = view_metrics(gated, raw[s])
        out[s][f"{GATED}_ungated"] = gate_report(probs[s], raw[s].majority, GATED)
        out[s][f"{GATED}_gated"] = gate_report(gated, raw[s].majority, GATED)
    return out, gate


def edge_path(gap_files: list[Path]) -> dict[str, Any]:
    return {f.stem: json.loads(f.read_text()) for f in gap_files} | (
        {"command": "python -m training edge-gap --split test --views 4"} if gap_files else {})


def rescore(args: argparse.Namespace) -> int:
    """The committed file through the edge again, after a change on the edge's side (its
    preprocessing): the model is not touched, only how the mirror feeds it and what that scores."""
    manifest_path = args.out / "manifest.json"
    entry = manifest.read(manifest_path).get(NAME)
    if entry is None:
        raise ValueError(f"{manifest_path}: no {NAME!r} entry to score again")
    entry["training"]["preprocess"] = entry["training"].get("preprocess", entry["input"]["preprocess"])
    entry["input"]["preprocess"] = args.serve_preprocess
    views, gate = edge_metrics(args.out, args.views, ferplus.load_raw(args.data, args.pixels_csv), scored_splits(args),
                               entry)
    entry["metrics"][f"int8_views{args.views}"] = views
    entry["min_confidence"] = {NAME: gate}
    manifest.write_entry(manifest_path, NAME, entry)
    print_selection(views, args.views, gate)
    return 0


def print_selection(views: dict[str, Any], n_views: int, gate: dict[str, float]) -> None:
    v = views["val"]
    print(f"selection (val, int8, {n_views} views, gated): FER+ accuracy {v['accuracy']:.4f} "
          f"(of {v['n']} kept), FER2013 macro recall {v['fer2013_macro_recall']:.4f}, "
          f"mean {(v['accuracy'] + v['fer2013_macro_recall']) / 2:.4f}; {GATED} gate {gate[GATED]:.2f}: "
          f"{v[f'{GATED}_gated']}")


def run(args: argparse.Namespace) -> int:
    if args.rescore:
        return rescore(args)
    manifest_path = args.out / "manifest.json"
    splits_scored = scored_splits(args)
    crop, crop_source = choose_crop(args.crop_json, manifest_path)
    log.info("crop rule from %s: %s", crop_source, crop)
    model = load_model(args.run)
    splits = ferplus.load(args.data, args.pixels_csv)
    data = load_data(splits, args.calib, args.parity, args.seed, splits_scored)
    spec = ModelSpec(
        name=NAME,
        model=model,
        heads={NAME: list(EXPRESSIONS)},
        input=InputSpec(size=(48, 48), color="gray", pixel_scale=PIXEL_SCALE, pixel_offset=PIXEL_OFFSET,
                        preprocess=args.serve_preprocess, crop=crop),
        training=training_info(args.run, data.fingerprint) | {"preprocess": ferplus.PREPROCESS_NAME},
    )
    entry = build(spec, data, args.run, args.out, bench_runs=args.bench_runs, flip=not args.no_flip)
    raw = ferplus.load_raw(args.data, args.pixels_csv)
    views, gate = edge_metrics(args.out, args.views, raw, splits_scored)
    entry["metrics"][f"int8_views{args.views}"] = views
    entry["min_confidence"] = {NAME: gate}
    if args.gap:
        entry["edge_path"] = edge_path(args.gap)
    entry = manifest.write_entry(manifest_path, NAME, entry)
    print(table(NAME, entry))
    print_selection(views, args.views, gate)
    print(f"wrote {args.out / entry['file']} and {manifest_path}")
    return 0
