"""FER+ (the FER2013 faces re-labelled by 10 crowd workers each) in the shapes people have it.

    ferplus.npz                      ../shared/data/ferplus (lossless pixels, votes, splits, FER2013 label)
    fer2013new.csv + fer2013.csv     Microsoft's FERPlus votes beside Kaggle's pixels (same rows)

FER2013's own labels agree with the FER+ majority on only 63% of the faces: a model trained on them
calls relaxed faces sad or angry. The votes fix that, but a model trained on them alone misses many
clearly sad and angry faces outside the data set, so training mixes both (`targets`) and selection
reads both (`ExpressionVal`): FER+ accuracy by the published protocol and macro recall on FER2013's labels.
"""
from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.perceive.preprocess import equalize_clip
from edge.state import EXPRESSIONS

DEFAULT_NPZ = Path(__file__).resolve().parents[1].parent / "shared/data/ferplus/ferplus.npz"
PREPROCESS_NAME = "equalizeHist(clip(1.2*x))"
# FER+'s vote columns, and which of our expressions each one is (unknown and NF are not expressions).
VOTE_NAMES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")
VOTE_TO_EXPRESSION = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad",
                      "anger": "angry", "disgust": "disgust", "fear": "fear", "contempt": "contempt"}
FER_CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")  # FER2013's label order
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
SPLITS = ("train", "val", "test")


@dataclass
class FerPlus:
    """One split's faces with everything selection and training need, in EXPRESSIONS order."""

    x: np.ndarray  # (N, 48, 48) uint8, T applied
    votes: np.ndarray  # (N, 10) raw crowd votes in VOTE_NAMES order
    fer_y: np.ndarray  # (N,) FER2013's own label as an EXPRESSIONS index, -1 where unmatched

    @property
    def distribution(self) -> np.ndarray:
        """(N, 8) the cleaned vote distribution FER+ trains on: single votes dropped, unknown and NF
        left out, the rest normalised; all zero where no emotion kept two votes."""
        v = self.votes.astype(np.float32)
        v[v <= 1] = 0
        emo = v[:, :8][:, _to_expressions()]
        total = emo.sum(1, keepdims=True)
        return np.divide(emo, total, out=np.zeros_like(emo), where=total > 0)

    @property
    def trainable(self) -> np.ndarray:
        """Faces the vote distribution may teach: some emotion kept votes, and unknown/NF do not win."""
        v = self.votes.astype(np.float32)
        v[v <= 1] = 0
        return (v[:, :8].sum(1) > 0) & (v[:, :8].max(1) >= v[:, 8:].max(1))

    @property
    def majority(self) -> np.ndarray:
        """The published test protocol (FER+'s ferplus.py, majority mode): single votes dropped, the top
        emotion must hold more than half of what remains (unknown and NF count in the total); -1 if not."""
        v = self.votes.astype(np.float32)
        v[v <= 1] = 0
        top = v.argmax(1)
        keep = (top < 8) & (v.max(1) > 0.5 * v.sum(1))
        out = np.full(len(v), -1, dtype=np.int64)
        out[keep] = _vote_column_to_expression()[top[keep]]
        return out


def _vote_column_to_expression() -> np.ndarray:
    """(8,) the EXPRESSIONS index of each emotion vote column."""
    return np.array([EXPRESSIONS.index(VOTE_TO_EXPRESSION[n]) for n in VOTE_NAMES[:8]])


def _to_expressions() -> np.ndarray:
    """Column order that turns the 8 emotion vote columns into EXPRESSIONS order."""
    return np.argsort(_vote_column_to_expression())


FER_TO_EXPRESSION = np.array([EXPRESSIONS.index(c) for c in FER_CLASSES])


@dataclass
class Splits:
    parts: dict[str, FerPlus]
    source: str
    fingerprint: str  # sha256 over the pixels, votes and FER2013 labels actually used

    def __getitem__(self, split: str) -> FerPlus:
        return self.parts[split]


def _finish(raw: dict[str, np.ndarray], votes: dict[str, np.ndarray], fer_y: dict[str, np.ndarray],
            source: str, apply_t: bool = True) -> Splits:
    h = hashlib.sha256()
    parts = {}
    for s in SPLITS:
        x = raw[s].reshape(-1, 48, 48)
        if apply_t and len(x):
            x = np.stack([equalize_clip(img) for img in x])
        y = np.where(fer_y[s] >= 0, FER_TO_EXPRESSION[np.clip(fer_y[s], 0, 6)], -1).astype(np.int64)
        parts[s] = FerPlus(x, votes[s].astype(np.uint8), y)
        for a in (x, parts[s].votes, y):
            h.update(np.ascontiguousarray(a).tobytes())
    return Splits(parts, source, h.hexdigest())


def load_npz(path: Path, apply_t: bool = True) -> Splits:
    z = np.load(path)
    if tuple(str(n) for n in z["vote_names"]) != VOTE_NAMES:
        raise ValueError(f"{path}: vote columns {list(z['vote_names'])} are not FER+'s {list(VOTE_NAMES)}")
    if tuple(str(c) for c in z["fer_classes"]) != FER_CLASSES:
        raise ValueError(f"{path}: fer_classes {list(z['fer_classes'])} differ from {list(FER_CLASSES)}")
    split = z["split"]
    pick = {s: split == s for s in SPLITS}
    return _finish({s: z["x"][m] for s, m in pick.items()}, {s: z["votes"][m] for s, m in pick.items()},
                   {s: z["fer_y"][m].astype(np.int64) for s, m in pick.items()}, str(path), apply_t)


def load_csv(votes_csv: Path, pixels_csv: Path, apply_t: bool = True) -> Splits:
    """Microsoft's fer2013new.csv (Usage, Image name, 10 vote columns) row by row beside Kaggle's
    fer2013.csv (emotion, pixels, Usage); rows without an image name were dropped by FER+ as no face."""
    with open(pixels_csv, newline="") as f:
        pixel_rows = list(csv.DictReader(f))
    raw: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    votes: dict[str, list[list[int]]] = {s: [] for s in SPLITS}
    fer_y: dict[str, list[int]] = {s: [] for s in SPLITS}
    with open(votes_csv, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        if [h.strip() for h in header[2:12]] != list(VOTE_NAMES):
            raise ValueError(f"{votes_csv}: not fer2013new.csv (expected Usage, Image name, {', '.join(VOTE_NAMES)})")
        for i, row in enumerate(reader):
            if i >= len(pixel_rows):
                raise ValueError(f"{votes_csv}: more rows than {pixels_csv}; they must be the same rows")
            if not row[1].strip():
                continue
            try:
                split = USAGE_TO_SPLIT[row[0].strip()]
                px = np.array(pixel_rows[i]["pixels"].split(), dtype=np.uint8).reshape(48, 48)
                label = int(pixel_rows[i]["emotion"])
                v = [int(c) for c in row[2:12]]
            except (KeyError, ValueError) as e:
                raise ValueError(f"{votes_csv}:{i + 2}: unreadable row ({e})") from None
            raw[split].append(px)
            votes[split].append(v)
            fer_y[split].append(label)
    return _finish({s: np.array(raw[s], dtype=np.uint8).reshape(-1, 48, 48) for s in SPLITS},
                   {s: np.array(votes[s], dtype=np.uint8).reshape(-1, 10) for s in SPLITS},
                   {s: np.array(fer_y[s], dtype=np.int64) for s in SPLITS}, f"{votes_csv} + {pixels_csv}", apply_t)


def load(path: str | Path, pixels_csv: str | Path | None = None, apply_t: bool = True) -> Splits:
    """T applied (what training sees), or the raw faces (apply_t=False: the edge applies T itself)."""
    path = Path(path)
    if path.suffix == ".npz":
        return load_npz(path, apply_t)
    if path.suffix == ".csv":
        pixels = Path(pixels_csv) if pixels_csv else path.with_name("fer2013.csv")
        if not pixels.is_file():
            raise ValueError(f"{path}: the votes need Kaggle's fer2013.csv beside them (or --pixels-csv PATH)")
        return load_csv(path, pixels, apply_t)
    raise ValueError(f"{path}: expected ferplus.npz or fer2013new.csv")


def load_raw(path: str | Path, pixels_csv: str | Path | None = None) -> Splits:
    return load(path, pixels_csv, apply_t=False)


def targets(part: FerPlus, ferplus_weight: float) -> np.ndarray:
    """(N, 8) training targets: the vote distribution mixed with FER2013's one-hot label.

    FER2013's labels carry what the votes lose (a sad or angry face most workers called neutral);
    where one source is missing the other stands alone; faces with neither get all-zero targets.
    """
    dist = part.distribution * part.trainable[:, None]
    onehot = np.zeros_like(dist)
    has_fer = part.fer_y >= 0
    onehot[has_fer, part.fer_y[has_fer]] = 1.0
    has_dist = dist.sum(1) > 0
    w = np.where(has_dist & has_fer, ferplus_weight, np.where(has_dist, 1.0, 0.0))[:, None]
    return (w * dist + (1 - w) * onehot).astype(np.float32)


def fer2013_recall(fer_y: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Per class recall on FER2013's own 7 labels: contempt is not among them, so the answer is the
    best of the other seven (what keeps the model sensitive to sad, angry and afraid faces)."""
    keep = fer_y >= 0
    p = probs[keep].copy()
    p[:, EXPRESSIONS.index("contempt")] = -1
    pred, y = p.argmax(1), fer_y[keep]
    return {EXPRESSIONS[c]: float((pred[y == c] == c).mean()) for c in FER_TO_EXPRESSION if (y == c).any()}


def macro_recall_fer(fer_y: np.ndarray, probs: np.ndarray) -> float:
    return float(np.mean(list(fer2013_recall(fer_y, probs).values())))


def crowd_as_model(part: FerPlus) -> tuple[np.ndarray, np.ndarray]:
    """The FER+ crowd's own answer, scored as if it were a model: (probabilities, FER2013 labels),
    over the faces where both the crowd (an expression holds the cleaned votes) and FER2013 answer.

    A model trained to agree with the crowd cannot be expected to agree with FER2013 more than the
    crowd itself does; this is the yardstick for issue 17's FER2013 target (training/README.md)."""
    answered = part.trainable & (part.fer_y >= 0) & (part.distribution.sum(1) > 0)
    return part.distribution[answered], part.fer_y[answered]
