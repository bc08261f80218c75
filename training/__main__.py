"""python -m training <task> [--recipe FILE] [flags]: the one entry point for training every model.

A recipe (training/recipes/*.toml) is the complete record of how a shipped model was made: data,
preprocessing, architecture, schedule, init and seed, as the same names the flags have. Flags given
on the command line override it; the run writes what it actually used, with its lineage, into
RUN/train_summary.json, which convert copies into the manifest.

    python -m training expression --recipe training/recipes/expression.toml
    python -m training attributes --recipe training/recipes/attributes.toml
    python -m training edge-gap --split val       (the other tools keep their own flags)
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

# Tasks trained by the shared loop below: module with add_arguments(ap) and build(args, device).
LOOP_TASKS = {"expression": "training.expression", "attributes": "training.attributes"}
# Tools with a main(argv) of their own.
TOOLS = {"attributes-from-tflite": "training.from_tflite",
         "expression-from-tflite": "training.from_tflite:expression_main", "edge-gap": "training.edge_gap", "report": "training.report",
         "detection-rate": "training.detection_rate", "detection-range": "training.detection_range",
         "blendshape-features": "training.blendshape_features", "expression-fusion": "training.fusion",
         "attributes-steadiness": "training.attributes_steadiness", "eyewear-photos": "training.eyewear_photos", "mask-photos": "training.mask_photos",
         "skin-tone": "training.skin_tone_check"}


def load_recipe(path: Path, task: str) -> dict[str, Any]:
    """A recipe's settings as argparse defaults; its task must be the one asked for."""
    try:
        recipe = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"recipe {path}: {e}") from None
    if recipe.get("task") != task:
        raise ValueError(f"recipe {path} is for task {recipe.get('task')!r}, not {task!r}")
    settings = dict(recipe.get("train", {}))
    for key in ("data", "pixels_csv", "out", "init", "wild", "cache", "teacher"):
        if key in settings:
            value = settings[key]
            settings[key] = [Path(v) for v in value] if isinstance(value, list) else Path(value)
    return settings


def shared_arguments(ap: argparse.ArgumentParser) -> None:
    """Flags every loop task has, with one meaning each."""
    from training.trainer import TrainConfig

    g = ap.add_argument_group("schedule (every task)")
    g.add_argument("--recipe", type=Path, help="a TOML recipe under training/recipes/; flags override it")
    g.add_argument("--out", type=Path, help="run folder (checkpoints, history, summary)")
    g.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    g.add_argument("--lr", type=float, default=TrainConfig.lr, help="peak learning rate")
    g.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    g.add_argument("--warmup-frac", type=float, default=TrainConfig.warmup_frac)
    g.add_argument("--patience", type=int, default=TrainConfig.patience,
                   help="epochs without a better val score before stopping early")
    g.add_argument("--max-minutes", type=float, default=0.0, help="wall-time budget; the schedule anneals to it")
    g.add_argument("--seed", type=int, default=TrainConfig.seed)
    g.add_argument("--threads", type=int, default=TrainConfig.threads, help="CPU threads for torch")
    g.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cuda, mps or cpu")
    g.add_argument("--init", type=Path, help="start from an earlier run's best.pt (a further cycle)")
    g.add_argument("--limit", type=int, default=0, help="only the first N faces of each split (smoke runs)")
    g.add_argument("--fresh", action="store_true", help="start over instead of resuming RUN/last.pt")


def _plain(value: Any) -> Any:
    """A setting as JSON holds it (paths as text, lists of them too)."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value


def run_loop_task(task_name: str, argv: list[str]) -> int:
    from training.trainer import TrainConfig, lineage_summary, pick_device, train

    module = importlib.import_module(LOOP_TASKS[task_name])
    ap = argparse.ArgumentParser(prog=f"python -m training {task_name}", description=module.__doc__.splitlines()[0])
    shared_arguments(ap)
    module.add_arguments(ap)
    pre, _ = ap.parse_known_args(argv)
    if pre.recipe:
        ap.set_defaults(**load_recipe(pre.recipe, task_name))
    args = ap.parse_args(argv)
    if args.out is None:
        ap.error("--out is required (or a recipe that names it)")
    device = pick_device(args.device)
    log = logging.getLogger("training")
    log.info("device %s, %d CPU threads", device, args.threads)
    net, task, info = module.build(args, device)
    cfg = TrainConfig(epochs=args.epochs, lr=args.lr, batch_size=min(args.batch_size, task.train_size),
                      max_minutes=args.max_minutes, warmup_frac=args.warmup_frac, patience=args.patience,
                      seed=args.seed, threads=args.threads, device=device)
    t0 = time.monotonic()
    model, history = train(net, task, cfg, args.out, task.train_size // cfg.batch_size, resume=not args.fresh)
    settings = {k: _plain(v) for k, v in vars(args).items()
                if k not in ("recipe", "fresh", "device", "threads", "limit") or v}
    summary = {
        "task": task_name,
        "recipe": str(args.recipe) if args.recipe else None,
        "settings": settings,  # everything the run used: a recipe can be written back from this
        "command": f"python -m training {task_name} " + " ".join(argv),
        "device": device,
        "wall_seconds": round(history.wall_seconds, 1),
        "session_seconds": round(time.monotonic() - t0, 1),
        "best_epoch": history.best_epoch,
        "best_val": history.epochs[history.best_epoch] if history.epochs else None,
        "epochs_run": len(history.epochs),
        "parameters": sum(p.numel() for p in model.parameters()),
        "config": cfg.__dict__,
        **info,
        **lineage_summary(args.init, history.wall_seconds),
    }
    (args.out / "train_summary.json").write_text(json.dumps(summary, indent=1))
    log.info("best val %.4f at epoch %d", history.best_score, history.best_epoch + 1)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    tasks = sorted(LOOP_TASKS) + sorted(TOOLS)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip() + "\n\ntasks: " + ", ".join(tasks))
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if name not in LOOP_TASKS and name not in TOOLS:
        print(f"error: unknown task {name!r}; tasks: {', '.join(tasks)}", file=sys.stderr)
        return 2
    try:  # bad input is one line for every task, tools with a main() of their own included
        if name in TOOLS:
            module, _, entry = TOOLS[name].partition(":")
            return getattr(importlib.import_module(module), entry or "main")(rest)
        return run_loop_task(name, rest)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"error: {e}".splitlines()[0], file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
