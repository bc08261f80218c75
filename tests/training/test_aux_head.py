"""training/aux_head.py: a FER2013-label head on the shipped expression model's frozen features, and
the mix of the two heads that issue #17's trade-off table reads. Needs torch and ../shared's FER+."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training import ferplus

REPO = Path(__file__).resolve().parents[2]
needs_ferplus = pytest.mark.skipif(not ferplus.DEFAULT_NPZ.is_file(),
                                   reason=f"FER+ not found at {ferplus.DEFAULT_NPZ} (../shared/data)")


@needs_ferplus
def test_the_fer2013_head_learns_its_labels_and_the_mix_trades_fer_plus_for_them(torch_one_thread) -> None:
    torch = torch_one_thread
    pytest.importorskip("ai_edge_litert")
    from training.aux_head import fit_aux, features, trade_off
    from training.expression import ValSet, to_input
    from training.from_tflite import expression_net_from_tflite

    splits = ferplus.load(ferplus.DEFAULT_NPZ)
    train, val = splits["train"], splits["val"]
    net = expression_net_from_tflite(REPO / "models_tflite/expression_int8.tflite", to_input(train.x[:256])).eval()
    train_f, train_p = features(net, train.x[:1500])
    head = fit_aux(train_f, train.fer_y[:1500], epochs=20)
    with torch.no_grad():
        aux_train = sum(torch.softmax(head(v), 1) for v in train_f).numpy() / 2
    # fit to FER2013's labels, it recalls them better than the FER+ head on the faces it saw
    assert (ferplus.macro_recall_fer(train.fer_y[:1500], aux_train)
            > ferplus.macro_recall_fer(train.fer_y[:1500], train_p.numpy()) + 0.1)
    val_f, val_p = features(net, val.x[:600])
    with torch.no_grad():
        aux_val = sum(torch.softmax(head(v), 1) for v in val_f).numpy() / 2
    scorer = ValSet(None, val.majority[:600], val.fer_y[:600])
    rows = trade_off(val_p.numpy(), aux_val, scorer)
    assert rows[0]["beta"] == 0.0 and rows[0]["ferplus_val_accuracy"] == round(scorer.score(val_p.numpy())["accuracy"], 4)
    assert rows[-1]["beta"] == 1.0 and rows[-1]["ferplus_val_accuracy"] == round(scorer.score(aux_val)["accuracy"], 4)
    # the FER+ head is what reads relaxed faces as neutral: all FER2013 head, FER+ accuracy falls
    assert rows[-1]["ferplus_val_accuracy"] < rows[0]["ferplus_val_accuracy"] - 0.05
    assert np.all(np.isfinite([r["mean"] for r in rows]))
