"""Model reports for training/reports/: learning curves, confusion matrices and the figures tables.

    python -m training report expression --run runs/expression [--gap runs/expression/gap_test.json]
    python -m training report attributes

Everything comes from files the pipeline already wrote (history.json of the run, the manifest entry
with float/int8 metrics); the report only draws and tabulates, it never re-evaluates.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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


def skin_tone_table(data_dir: Path) -> tuple[dict[str, dict[str, int]], int]:
    """Measured tone per labelled skin group: a sanity check of the measurement, not a target."""
    import csv

    import cv2

    from edge.perceive.detect import BlazeFaceDetector, detect_still
    from edge.perceive.skin_light import white_balance_gains
    from edge.perceive.skin_tone import cut, measure, tone_of
    from edge.state import SKIN_TONES

    det, far = BlazeFaceDetector("short", 1), BlazeFaceDetector("full", 1)
    table: dict[str, dict[str, int]] = {}
    unmeasured = 0
    for r in csv.DictReader(open(data_dir / "labels.csv")):
        if not r["skin_group"]:
            continue
        img = cv2.imread(str(data_dir / r["file"]))
        faces, _ = detect_still(det, img, far)
        sample = measure(cut(img, faces[0], white_balance_gains(img, [faces[0].box]))) if faces else None
        row = table.setdefault(r["skin_group"], {t: 0 for t in (*SKIN_TONES, "none")})
        if sample is None:
            unmeasured += 1
            row["none"] += 1
        else:
            row[tone_of(sample.index)] += 1
    return table, unmeasured


def attribute_lineage(summary: dict) -> list[str]:
    """Earlier cycles and teacher runs: the model's training time is theirs as well as its own."""
    if not summary.get("init") and not summary.get("teacher"):
        return []
    runs = [(r["command"], r["wall_seconds"]) for r in summary.get("lineage", [])]
    for t in summary.get("teacher", {}).get("runs", []):
        path = REPO / Path(t["path"]).parent / "train_summary.json"
        teacher = json.loads(path.read_text()) if path.is_file() else {}
        if teacher.get("command") and teacher["command"] not in [c for c, _ in runs]:
            runs.append((teacher["command"], teacher.get("wall_seconds", 0)))
    lines = [f"It started from `{summary['init']}`."] if summary.get("init") else []
    lines += ["Earlier runs it descends from (as a later cycle or through its teacher, "
              f"{len(summary.get('teacher', {}).get('runs', []))} runs' plain+mirror probabilities):", ""]
    lines += [f"- `{c}`, {w / 60:.0f} minutes" for c, w in runs]
    total = summary["wall_seconds"] + sum(w for _, w in runs)
    return lines + ["", f"Total training wall time {total / 60:.0f} minutes.", ""]


def attributes_report(entry: dict, history: dict, run: Path, out_dir: Path) -> str:
    """Per-head metrics, confusion matrices and per-skin-group accuracy of the int8 model on test."""
    from training.tflite_eval import run_tflite
    from training import attributes as attr
    from training import eyewear_eval

    plot_curves(history, out_dir / "attributes_curves.png", "Attribute model (mask, eyewear, glasses shape)")
    summary = json.loads((run / "train_summary.json").read_text())
    size, rule = attr.run_size(run), attr.run_crop(run)
    data = attr.data_for(size, rule, cache=REPO / attr.crop_cache(size, rule))
    tfl = REPO / "models_tflite" / entry["file"]
    outputs = {h: o["index"] for h, o in entry["outputs"].items()}
    lines = ["# Attribute model report", "",
             f"One backbone, three heads (`training/nets.py` AttributeNet, {summary['parameters']} parameters), "
             f"`{summary['command']}`, {summary['epochs_run']} epochs in {summary['wall_seconds'] / 60:.1f} minutes; "
             f"int8 file {entry['bytes'] / 1e6:.2f} MB, "
             f"{entry['conversion']['host_benchmark'].get('median_ms', float('nan')):.2f} ms per face at 1 thread.", "",
             "Training crops are made the way the Pi makes them: our BlazeFace on the photo (padded, full-range "
             "and tiled retries for tight crops and crowd shots), then the edge crop rule "
             f"`{json.dumps(entry['input']['crop'])}` at {size}x{size} RGB. No face was found in "
             f"{sum(summary['no_detection'].values())} photos ({summary['no_detection']}); they are left out "
             f"(the mirror would show nothing for them). Detector attempts: {summary['detector_attempts']}.", ""]
    lines += attribute_lineage(summary)
    for split in ("val", "test"):
        probs = run_tflite(tfl, attr.to_input(data.x[split]).numpy(), outputs)
        ev = attr.evaluate_probs(probs, data.y[split], data.group[split])
        lines += [f"## int8, {split} ({len(data.x[split])} images)", "",
                  "| head | n | accuracy | macro-F1 | balanced accuracy |", "|---|---|---|---|---|"]
        for head in attr.CLASSES:
            m = ev[head]
            n = sum(map(sum, m["confusion"]))
            lines.append(f"| {head} | {n} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {m['balanced_accuracy']:.4f} |")
            if split == "test":
                plot_confusion(m["confusion"], attr.CLASSES[head], out_dir / f"attributes_{head}_confusion_test.png",
                               f"{head}, int8, test")
        if "eyewear_some_vs_none_accuracy" in ev:
            lines.append(f"\nGlasses of unknown kind (`glasses_unknown`) read as some eyewear: "
                         f"{ev['eyewear_some_vs_none_accuracy']:.4f}.")
        lines += ["", "| skin group (students' label) | n | mask accuracy | eyewear accuracy |", "|---|---|---|---|"]
        for g, row in ev["by_skin_group"].items():
            lines.append(f"| {g} | {row['n']} | {row.get('mask', float('nan')):.4f} | {row.get('eyewear', float('nan')):.4f} |")
        lines += ["", f"Eyewear per kind, int8, {split}:", ""]
        kinds = eyewear_eval.by_kind(probs["eyewear"], data.y[split]["eyewear"], data.y[split]["mask"])
        painted = eyewear_eval.synthetic(data.x[split], data.keypoints[split], data.y[split]["eyewear"],
                                         lambda x: run_tflite(tfl, x, outputs)) if split == "val" else None
        lines += eyewear_eval.markdown(kinds, painted)
        lines.append("")
    table, unmeasured = skin_tone_table(attr.DEFAULT_DATA)
    tones = list(next(iter(table.values())))
    lines += ["## Measured skin tone per labelled group (sanity table, all splits)", "",
              "The skin tone is measured (ITA of white-balanced cheek and forehead skin), never predicted from "
              "these labels; this table only checks that the measurement moves the way it should. These photos "
              "are close-ups (the face is ~90% of the width), so the white balance is left as the camera made it "
              "(`edge/perceive/skin_tone.py` MIN_BACKGROUND): balancing a frame that is mostly face pulled the skin itself "
              "toward grey, and 61 of the 298 `black`-labelled photos read `light` (7 now).", "",
              "| group | " + " | ".join(tones) + " |", "|---|" + "---|" * len(tones)]
    for g, row in sorted(table.items()):
        lines.append(f"| {g} | " + " | ".join(str(row[t]) for t in tones) + " |")
    lines += ["", "![learning curves](attributes_curves.png)", ""]
    lines += [f"![{h}](attributes_{h}_confusion_test.png)" for h in attr.CLASSES]
    return "\n".join(lines) + "\n"


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
        from training import ferplus
        from training.expression_report import expression_report, load_gap

        crowd = None
        if ferplus.DEFAULT_NPZ.is_file():
            probs, fer_y = ferplus.crowd_as_model(ferplus.load_raw(ferplus.DEFAULT_NPZ)["test"])
            crowd = (ferplus.fer2013_recall(fer_y, probs), len(fer_y))
        text = expression_report(entry, history, load_gap(args.gap), REPORTS, plot_confusion, crowd)
    else:
        text = attributes_report(entry, history, run, REPORTS)
    (REPORTS / f"{args.model}.md").write_text(text)
    print(REPORTS / f"{args.model}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
