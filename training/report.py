"""Model reports for training/reports/: learning curves, confusion matrices and the figures tables.

    python -m training.report expression [--gap-val runs/expression/gap_val.json --gap-test runs/expression/gap_test.json]
    python -m training.report attributes

Everything comes from files the pipeline already wrote (history.json of the run, the manifest entry
with float/int8 metrics); the report only draws and tabulates, it never re-evaluates.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REPORTS = REPO / "training" / "reports"


def plot_curves(history: dict, out: Path, title: str) -> None:
    rows = history["epochs"]
    ep = [r["epoch"] + 1 for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    ax[0].plot(ep, [r["train_loss"] for r in rows], label="train loss (augmented)")
    ax[0].set_xlabel("epoch")
    ax[0].legend()
    ax[1].plot(ep, [r["val_score"] for r in rows], label="val, EMA weights (selected)")
    ax[1].plot(ep, [r.get("val_raw_score", np.nan) for r in rows], label="val, raw weights", alpha=0.6)
    best = history["best_epoch"]
    ax[1].axvline(best + 1, color="grey", ls=":", label=f"best epoch {best + 1}")
    ax[1].set_xlabel("epoch")
    ax[1].set_ylabel("accuracy")
    ax[1].legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_confusion(cm: list[list[int]], classes: list[str], out: Path, title: str) -> None:
    m = np.array(cm, float)
    norm = m / np.maximum(m.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * len(classes), 0.8 + 0.7 * len(classes)))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{int(m[i, j])}\n{norm[i, j]:.0%}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def metric_row(name: str, m: dict[str, Any]) -> str:
    return f"| {name} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {m['balanced_accuracy']:.4f} |"


def expression_report(entry: dict, history: dict, gap: dict[str, dict], out_dir: Path) -> str:
    plot_curves(history, out_dir / "expression_curves.png", "Expression model (FER2013)")
    classes = entry["classes"]
    test = entry["metrics"]["int8"]["test"]
    plot_confusion(test["confusion"], classes, out_dir / "expression_confusion_test_int8.png",
                   f"int8, FER2013 PrivateTest (n={sum(map(sum, test['confusion']))})")
    tr, conv = entry["training"], entry["conversion"]
    lines = [
        "# Expression model report",
        "",
        f"Network: `training/nets.py` ExpressionNet ({tr.get('parameters')} parameters), trained with",
        f"`{tr.get('command')}`; {tr.get('epochs')} epochs in {tr.get('wall_seconds', 0) / 60:.0f} minutes on "
        "this 2-core machine; the EMA weights of the best val epoch "
        f"({(tr.get('best_epoch') or 0) + 1}) were kept. Converted by {conv['tool']} "
        f"in {conv['seconds']:.1f} s, {entry['bytes'] / 1e6:.2f} MB, "
        f"{conv['host_benchmark'].get('median_ms', float('nan')):.2f} ms per inference at 1 thread.",
        "",
        "| model | accuracy | macro-F1 | balanced accuracy |",
        "|---|---|---|---|",
    ]
    for variant in ("float", "int8", "float_flip", "int8_flip"):
        for split in ("val", "test"):
            if variant in entry["metrics"]:
                lines.append(metric_row(f"{variant} {split}", entry["metrics"][variant][split]))
    lines += ["", "Per-class recall, int8, test:", "",
              "| " + " | ".join(classes) + " |", "|" + "---|" * len(classes),
              "| " + " | ".join(f"{test['recall'][c]:.3f}" for c in classes) + " |", ""]
    if gap:
        lines += ["## Train/serve gap (whole edge path)", "",
                  "Raw FER2013 faces upscaled to 120-200 px and pasted at random places on 640x480 backgrounds,",
                  "then BlazeFace -> crop rule -> T -> int8 model (`python -m training.edge_gap`). A face the",
                  "detector misses counts as wrong.", "",
                  "| split | flip | direct accuracy | edge-path accuracy | gap (points) | detector missed | crop rule |",
                  "|---|---|---|---|---|---|---|"]
        for name, g in gap.items():
            lines.append(f"| {g['split']} | {g['flip_average']} | {g['direct_accuracy']:.4f} | {g['edge_accuracy']:.4f} | "
                         f"{g['gap_points']:.2f} | {g['detector_missed']} / {g['images']} | `{json.dumps(g['crop'])}` |")
        lines.append("")
    lines += ["![learning curves](expression_curves.png)", "",
              "![confusion matrix](expression_confusion_test_int8.png)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=("expression", "attributes"))
    ap.add_argument("--run", type=Path)
    ap.add_argument("--gap", type=Path, nargs="*", default=[], help="edge_gap JSON outputs to tabulate")
    args = ap.parse_args(argv)
    run = args.run or REPO / "runs" / args.model
    entry = json.loads((REPO / "models_tflite" / "manifest.json").read_text())[args.model]
    history = json.loads((run / "history.json").read_text())
    REPORTS.mkdir(parents=True, exist_ok=True)
    if args.model == "expression":
        gap = {str(p): json.loads(p.read_text()) for p in args.gap}
        text = expression_report(entry, history, gap, REPORTS)
    else:
        from training.attributes_report import attributes_report

        text = attributes_report(entry, history, run, REPORTS)
    (REPORTS / f"{args.model}.md").write_text(text)
    print(REPORTS / f"{args.model}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
