"""Fit and choose the expression fusion (edge/perceive/fusion.py) on FER+ val, for the expression model in use.

    python -m training blendshape-features                          # once: the 52 scores of every face
    python -m training expression-fusion                            # fit, choose alpha on val, print the table
    python -m training expression-fusion --write                    # and commit it to models_tflite if it wins
    python -m training expression-fusion --models /tmp/cand --test  # another expression model; read test once

Two steps, so a new expression model needs only the cheap second one:
1. the blendshape head (multinomial logistic regression on the 52 scores, class-balanced) is fitted on
   train faces where the mesh works; its L2 and class balance are chosen on val by its own balanced
   accuracy - it never sees the expression model;
2. alpha, the expression model's share of the fused log-probabilities, is chosen on val by balanced
   accuracy (macro recall over the 8 FER+ majority classes) against the expression model in `--models`,
   run as the mirror runs it: the edge Classifier (the config's views, gate) on the crop of the same pasted frame
   and detection the blendshapes came from. Every face the protocol keeps counts: a face the detector
   misses is wrong either way, a face without a mesh keeps the model's answer.
The rule, fixed before anything was scored: the fusion is written only if it raises val balanced accuracy
over the expression model alone (alpha = 1) by at least MIN_GAIN; test is read only with --test. Since
session 11 (written before that refit was scored) alpha is chosen only among those that cost at most
MAX_ACCURACY_LOSS of val plain accuracy: on balanced accuracy alone, 13 contempt faces outvoted 1182
neutral ones (the third cycle's refit bought them with 2.1 points of accuracy and 3.3 of neutral recall).
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import minimize

from edge.perceive.blendshapes import Blendshapes
from edge.perceive.classify import Classifier
from edge.config import ClassifyConfig
from edge.perceive.detect import BlazeFaceDetector
from edge.perceive.fusion import EXPRESSION, FILE, NAME, Fusion, ShapeHead, softmax_rows
from edge.perceive.landmarks import FaceMesh
from edge.model_files import MODELS_DIR, read_manifest
from training import blendshape_features as bsf
from training import ferplus

log = logging.getLogger(__name__)

MIN_GAIN = 0.005  # val balanced accuracy the fusion must add before it ships
MAX_ACCURACY_LOSS = 0.005  # val plain accuracy an alpha may cost and still be chosen
ALPHAS = np.round(np.arange(0.0, 1.0001, 0.05), 2)
L2S = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
BALANCE = (0.5, 1.0)  # class weight = (1 / count) ** power
DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo"


def fit_head(x: np.ndarray, y: np.ndarray, classes: tuple[str, ...], l2: float, power: float) -> ShapeHead:
    """Multinomial logistic regression by L-BFGS; class-weighted so rare expressions are not ignored."""
    mean, scale = x.mean(0), x.std(0) + 1e-3
    z = (x - mean) / scale
    c, d = len(classes), x.shape[1]
    counts = np.bincount(y, minlength=c).astype(np.float64)
    cw = np.where(counts > 0, 1.0 / np.maximum(counts, 1) ** power, 0.0)
    sw = cw[y] / cw[y].sum()
    onehot = np.eye(c)[y]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[: c * d].reshape(c, d), theta[c * d:]
        p = softmax_rows(z @ w.T + b)
        nll = -float((sw * np.log(np.maximum(p[np.arange(len(y)), y], 1e-12))).sum())
        g = (p - onehot) * sw[:, None]
        return nll + l2 * float((w * w).sum()), np.concatenate([(g.T @ z + 2 * l2 * w).ravel(), g.sum(0)])

    res = minimize(loss, np.zeros(c * d + c), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return ShapeHead(classes, res.x[: c * d].reshape(c, d), res.x[c * d:], mean, scale)


@dataclass
class Scores:
    accuracy: float
    balanced: float
    recall: dict[str, float]
    n: int

    def as_dict(self) -> dict:
        return {"accuracy": round(self.accuracy, 4), "balanced_accuracy": round(self.balanced, 4),
                "recall": {c: round(r, 4) for c, r in self.recall.items()}, "n": self.n}


def choose_alpha(curve: dict[float, Scores], alone: Scores) -> tuple[float, list[float]]:
    """The alpha with the best val balanced accuracy among those that cost at most MAX_ACCURACY_LOSS of
    plain accuracy (alpha 1, the model alone, always qualifies); ties go to more of the expression model."""
    allowed = [a for a in curve if alone.accuracy - curve[a].accuracy <= MAX_ACCURACY_LOSS + 1e-12]
    return max(allowed, key=lambda a: (curve[a].balanced, a)), allowed


def score(pred: np.ndarray, y: np.ndarray, classes: tuple[str, ...]) -> Scores:
    """Accuracy and macro recall over the classes present (pred -1 = no answer, always wrong)."""
    recall = {c: float((pred[y == k] == k).mean()) for k, c in enumerate(classes) if (y == k).any()}
    return Scores(float((pred == y).mean()), float(np.mean(list(recall.values()))), recall, len(y))


def served_as(entry: dict) -> str:
    """The expression model as the edge serves it - its file and the transform the edge applies - as a
    short name for caches: the same file fed another way answers differently."""
    return f"{entry['sha256'][:12]}_{hashlib.sha256(entry['input']['preprocess'].encode()).hexdigest()[:6]}"


def expression_probs(clf: Classifier, served: str, split: str, raw: np.ndarray, feats: bsf.Features,
                     rows: np.ndarray, frames: bsf.Frames, cache_dir: Path) -> np.ndarray:
    """(len(rows), C) the expression model's gated probabilities on the edge crop of each face's frame
    (NaN where the detector missed), cached per model as served (`served_as`) and split in runs/."""
    path = cache_dir / f"fusion_expr_{served}_{split}_s{frames.seed}.npz"
    if path.is_file():
        z = np.load(path)
        if np.array_equal(z["rows"], rows):
            return z["probs"]
    probs = np.full((len(rows), len(clf.heads[0].classes)), np.nan)
    for j, i in enumerate(rows):
        face = feats.face(int(i))
        if face is not None:
            frame = frames.frame_for(raw[i], split, int(i))
            probs[j] = clf.probabilities(clf.crop(frame, face))[EXPRESSION]
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(path, rows=rows, probs=probs)
    return probs


@dataclass
class Split:
    """One scored split: the kept faces' labels, expression probabilities, features and mesh flags."""

    y: np.ndarray
    p_expr: np.ndarray  # NaN rows: not detected
    shapes: np.ndarray
    works: np.ndarray

    def predict(self, fusion: Fusion | None) -> np.ndarray:
        pred = np.full(len(self.y), -1)
        found = ~np.isnan(self.p_expr[:, 0])
        p = self.p_expr.copy()
        if fusion is not None:
            fused = found & self.works
            p[fused] = fusion(self.p_expr[fused], self.shapes[fused])
        pred[found] = p[found].argmax(1)
        return pred


def load_split(split: str, args: argparse.Namespace, raw: ferplus.Splits, clf: Classifier, served: str,
               frames: bsf.Frames) -> Split:
    feats, meta = bsf.load(args.features, split)
    if meta["fingerprint"] != raw.fingerprint or meta["seed"] != frames.seed:
        raise ValueError(f"{args.features}: made from other data or another seed; rerun blendshape-features")
    y_all = raw[split].majority[: len(feats.detected)]
    rows = np.flatnonzero(y_all >= 0)
    p = expression_probs(clf, served, split, raw[split].x, feats, rows, frames, args.cache)
    return Split(y_all[rows], p, feats.shapes[rows], feats.works[rows])


def choose_head(args: argparse.Namespace, raw: ferplus.Splits, val: Split,
                classes: tuple[str, ...]) -> tuple[ShapeHead, dict]:
    feats, _ = bsf.load(args.features, "train")
    y = raw["train"].majority[: len(feats.detected)]
    use = feats.works & (y >= 0)
    x, yt = feats.shapes[use].astype(np.float64), y[use]
    best: tuple[float, ShapeHead, dict] | None = None
    for l2 in L2S:
        for power in BALANCE:
            head = fit_head(x, yt, classes, l2, power)
            s = score(head.probs(val.shapes[val.works]).argmax(1), val.y[val.works], classes)
            log.info("head l2 %g balance %.1f: val balanced accuracy %.4f (where the mesh works)", l2, power, s.balanced)
            if best is None or s.balanced > best[0]:
                best = (s.balanced, head, {"l2": l2, "balance_power": power, "train_faces": int(use.sum()),
                                           "val_balanced_accuracy_mesh_faces": round(s.balanced, 4)})
    assert best is not None
    return best[1], best[2]


def bootstrap_gain(a: np.ndarray, b: np.ndarray, y: np.ndarray, classes: tuple[str, ...],
                   n: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """Paired bootstrap of balanced accuracy b - a over the same faces: 5th and 95th percentile and the
    share of resamples where b is not better. A few faces of a class of 13-31 move balanced accuracy by
    a point, so the gain needs its spread beside it."""
    rng = np.random.default_rng(seed)
    gains = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        gains.append(score(b[i], y[i], classes).balanced - score(a[i], y[i], classes).balanced)
    g = np.array(gains)
    return float(np.percentile(g, 5)), float(np.percentile(g, 95)), float((g <= 0).mean())


def table(rows: dict[str, Scores], classes: tuple[str, ...]) -> str:
    head = "| | " + " | ".join(classes) + " | balanced | accuracy |\n|---|" + "---|" * (len(classes) + 2)
    lines = [f"| {name} | " + " | ".join(f"{s.recall.get(c, float('nan')):.3f}" for c in classes)
             + f" | **{s.balanced:.4f}** | {s.accuracy:.4f} |" for name, s in rows.items()]
    return "\n".join([head, *lines])


def demo(clf: Classifier, fusion: Fusion) -> dict[str, dict[str, str]]:
    """The demo portraits through the edge: BlazeFace, the expression crop, the 478 mesh, blendshapes."""
    det, mesh, shapes = BlazeFaceDetector("short", 1), FaceMesh(1, points="478"), Blendshapes(1)
    out = {}
    for path in sorted(DEMO.glob("*.[jp][pn]g")):
        image = cv2.imread(str(path))
        face = max(det.detect(image), key=lambda f: f.area)
        p = clf.probabilities(clf.crop(image, face))[EXPRESSION]
        lm = mesh(image, face)
        s = shapes.scores(lm.points)
        out[path.name] = {k: fusion.classes[int(np.argmax(v))] for k, v in
                          (("expression", p), ("shapes", fusion.head.probs(s)), ("fused", fusion(p, s)))}
    return out


def write(out_dir: Path, fusion: Fusion, entry: dict) -> Path:
    from edge.model_files import write_manifest_entry as write_entry  # hashes and merges manifest entries, once

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / FILE).write_text(json.dumps(fusion.to_json()) + "\n")
    write_entry(out_dir / "manifest.json", NAME, entry | {"file": FILE})
    return out_dir / FILE


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training expression-fusion", description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ferplus.DEFAULT_NPZ, help="ferplus.npz or fer2013new.csv")
    ap.add_argument("--pixels-csv", type=Path, help="fer2013.csv for fer2013new.csv's pixels")
    ap.add_argument("--features", type=Path, default=bsf.DEFAULT_OUT, help="from python -m training blendshape-features")
    ap.add_argument("--models", type=Path, default=MODELS_DIR, help="folder whose manifest has the expression model to fuse with")
    ap.add_argument("--out", type=Path, default=MODELS_DIR, help="where --write puts the fusion and its manifest entry")
    ap.add_argument("--cache", type=Path, default=Path("runs"), help="expression probabilities per model and split")
    ap.add_argument("--views", type=int, choices=(1, 2, 4), default=ClassifyConfig().views,
                    help="the expression model's test-time views (default: the mirror's, classify.views)")
    ap.add_argument("--write", action="store_true", help="write the fusion if it passes the val rule")
    ap.add_argument("--test", action="store_true", help="read test once, for the chosen fusion")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    entry = read_manifest(args.models)[EXPRESSION]
    sha, classes = entry["sha256"], tuple(entry["classes"])
    clf = Classifier(EXPRESSION, entry, args.models, 1, views=args.views)
    raw = ferplus.load_raw(args.data, args.pixels_csv)
    frames = bsf.Frames(bsf.load(args.features, "val")[1]["seed"])
    val = load_split("val", args, raw, clf, served_as(entry), frames)
    head, head_info = choose_head(args, raw, val, classes)
    alone = score(val.predict(None), val.y, classes)
    curve = {float(a): score(val.predict(Fusion(head, float(a), sha)), val.y, classes) for a in ALPHAS}
    alpha, allowed = choose_alpha(curve, alone)
    fusion = Fusion(head, alpha, sha)
    gain = curve[alpha].balanced - alone.balanced
    ships = alpha < 1.0 and gain >= MIN_GAIN
    shapes_only = score(np.where(val.works & ~np.isnan(val.p_expr[:, 0]), head.probs(val.shapes).argmax(1), -1), val.y, classes)
    mesh = val.works & ~np.isnan(val.p_expr[:, 0])
    print(f"expression model {sha[:12]}... ({args.models}), {len(val.y)} val faces kept by the FER+ protocol; "
          f"detected {np.mean(~np.isnan(val.p_expr[:, 0])):.4f}, mesh works {mesh.mean():.4f}")
    print("head:", json.dumps(head_info))
    print("val balanced accuracy by alpha: " + ", ".join(f"{a:.2f} {s.balanced:.4f}" for a, s in curve.items()))
    rows = {"expression model alone (val)": alone, "blendshape head alone (val; no mesh = wrong)": shapes_only,
            f"fused, alpha {alpha:.2f} (val)": curve[alpha]}
    mesh_rows = {"expression alone, mesh faces (val)": score(val.predict(None)[mesh], val.y[mesh], classes),
                 "fused, mesh faces (val)": score(val.predict(fusion)[mesh], val.y[mesh], classes)}
    print(table(rows | mesh_rows, classes))
    lo, hi, worse = bootstrap_gain(val.predict(None), val.predict(fusion), val.y, classes)
    print(f"paired bootstrap of the val gain (1000 resamples; alpha held at {alpha:.2f}): 90% interval "
          f"[{lo:+.4f}, {hi:+.4f}], not better in {worse:.1%}")
    print(f"rule: alpha among those costing <= {MAX_ACCURACY_LOSS} of val accuracy "
          f"({', '.join(f'{a:.2f}' for a in allowed)}); val balanced accuracy +{gain:.4f} "
          f"(needs >= {MIN_GAIN} with alpha < 1): {'ships' if ships else 'does not ship'}")
    demo_out = demo(clf, fusion)
    print("demo portraits (largest face):", json.dumps(demo_out))
    metrics = {"val": {"alone": alone.as_dict(), "fused": curve[alpha].as_dict(),
                       "gain_bootstrap_90": [round(lo, 4), round(hi, 4)],
                       "balanced_by_alpha": {f"{a:.2f}": round(s.balanced, 4) for a, s in curve.items()}}}
    if args.test:
        test = load_split("test", args, raw, clf, served_as(entry), frames)
        t_alone, t_fused = score(test.predict(None), test.y, classes), score(test.predict(fusion), test.y, classes)
        print(table({"expression model alone (test)": t_alone, f"fused, alpha {alpha:.2f} (test)": t_fused}, classes))
        metrics["test"] = {"alone": t_alone.as_dict(), "fused": t_fused.as_dict()}
    if args.write and ships:
        _, meta = bsf.load(args.features, "val")
        path = write(args.out, fusion, {
            "what": "expression x blendshape head, late fusion (edge/perceive/fusion.py)", "alpha": alpha,
            "expression_sha256": sha, "expression_preprocess": entry["input"]["preprocess"], "classes": list(classes),
            "training": {"command": "python -m training expression-fusion --write"
                         + (f" --models {args.models}" if args.models != MODELS_DIR else ""),
                         "date": dt.date.today().isoformat(), "head": head_info,
                         "features": {k: meta[k] for k in ("seed", "fingerprint", "frame", "summary")},
                         "rule": f"val balanced accuracy gain >= {MIN_GAIN} over the expression model alone, "
                                 f"alpha among those costing <= {MAX_ACCURACY_LOSS} of val accuracy"},
            "metrics": metrics, "demo": demo_out})
        print(f"wrote {path} and its manifest entry")
    elif args.write:
        print("not written: the fusion does not pass the val rule")
    return 0
