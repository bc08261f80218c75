"""Ship the attribute model: runs/attributes/best.pt -> models_tflite/attributes_int8.tflite + manifest.

    python -m convert attributes --run runs/attributes --out models_tflite

Only what is specific to AttributeNet lives here (its checkpoint, the edge-style crops of the
face-attribute photos, RGB input at the size the run was trained at); conversion, evaluation and the manifest are convert.pipeline's.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

from convert.expression import training_info
from convert.manifest import InputSpec
from convert.pipeline import EvalData, ModelSpec, add_val_only, build, scored_splits, table
from training import attributes as attr
from training.nets import AttributeNet

log = logging.getLogger("convert")

NAME = "attributes"


def load_model(run_dir: Path) -> AttributeNet:
    path = run_dir / "best.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint (train with python -m training.attributes first)")
    model = AttributeNet(size=attr.run_size(run_dir))
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def load_data(data: attr.AttributeData, calib_n: int, parity_n: int, seed: int, source: str,
              splits_scored: tuple[str, ...] = ("val", "test")) -> EvalData:
    rng = np.random.default_rng(seed)
    train, val = data.x["train"], data.x["val"]
    calib_idx = np.sort(rng.choice(len(train), size=min(calib_n, len(train)), replace=False))
    parity_idx = np.sort(rng.choice(len(val), size=min(parity_n, len(val)), replace=False))
    return EvalData(
        calib=attr.to_input(train[calib_idx]).numpy(),
        x={s: attr.to_input(data.x[s]).numpy() for s in splits_scored},
        y={s: data.y[s] for s in splits_scored},
        parity_x=attr.to_input(val[parity_idx]).numpy(),
        source=source,
        fingerprint=data.fingerprint,
    )


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--run", type=Path, default=Path("runs/attributes"), help="training run with best.pt")
    ap.add_argument("--out", type=Path, default=Path("models_tflite"), help="folder with manifest.json")
    ap.add_argument("--data", type=Path, default=attr.DEFAULT_DATA)
    ap.add_argument("--cache", type=Path, help="crop cache (default runs/attribute_crops_SIZE.npz)")
    ap.add_argument("--calib", type=int, default=1000)
    ap.add_argument("--parity", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bench-runs", type=int, default=200)
    ap.add_argument("--no-flip", action="store_true")
    add_val_only(ap)


def run(args: argparse.Namespace) -> int:
    splits_scored = scored_splits(args)
    size, rule = attr.run_size(args.run), attr.run_crop(args.run)
    data = attr.data_for(size, rule, args.data, args.cache)
    eval_data = load_data(data, args.calib, args.parity, args.seed, str(args.data), splits_scored)
    spec = ModelSpec(
        name=NAME,
        model=load_model(args.run),
        heads={h: list(c) for h, c in attr.CLASSES.items()},
        input=InputSpec(size=(size, size), color="rgb", pixel_scale=attr.PIXEL_SCALE,
                        pixel_offset=attr.PIXEL_OFFSET, preprocess="none", crop=rule.to_manifest()),
        training=training_info(args.run, data.fingerprint),
    )
    entry = build(spec, eval_data, args.run, args.out, bench_runs=args.bench_runs, flip=not args.no_flip)
    print(table(NAME, entry))
    return 0
