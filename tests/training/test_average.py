"""training/average.py: expression runs that share a start, averaged into one run convert can ship."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training import ferplus

REPO = Path(__file__).resolve().parents[2]


def test_the_average_is_the_mean_of_the_weights_and_batchnorm_is_measured_again(torch_one_thread) -> None:
    torch = torch_one_thread
    from torch import nn

    from training.average import average, measure_batchnorm
    from training.nets import ExpressionNet

    a, b = ExpressionNet().eval(), ExpressionNet().eval()
    mean = average([a, b])
    for k, v in mean.state_dict().items():
        if v.is_floating_point() and "running" not in k:
            assert torch.allclose(v, (a.state_dict()[k] + b.state_dict()[k]) / 2), k
    faces = np.random.default_rng(0).integers(0, 256, (64, 48, 48), dtype=np.uint8)
    measure_batchnorm(mean, faces, batch=16)
    conv, bn = mean.features[0], mean.features[1]
    from training.expression import to_input
    x = torch.cat([to_input(faces), to_input(faces[:, :, ::-1].copy())]).permute(0, 3, 1, 2)
    with torch.no_grad():
        first = conv(x)
    assert torch.allclose(bn.running_mean, first.mean(dim=(0, 2, 3)), atol=1e-4)
    assert not mean.training and isinstance(bn, nn.BatchNorm2d) and bn.momentum == 0.1
    with pytest.raises(ValueError, match="architectures"):
        average([a, ExpressionNet(hidden=32)])


@pytest.mark.skipif(not ferplus.DEFAULT_NPZ.is_file(), reason=f"FER+ not found at {ferplus.DEFAULT_NPZ} (../shared/data)")
def test_the_average_is_a_run_folder_with_its_lineage(tmp_path: Path, torch_one_thread) -> None:
    torch = torch_one_thread
    from training.__main__ import main
    from training.nets import ExpressionNet, load_expression_net

    runs = []
    for i in range(2):
        run = tmp_path / f"c{i}"
        run.mkdir()
        torch.manual_seed(i)
        torch.save(ExpressionNet().state_dict(), run / "best.pt")
        (run / "train_summary.json").write_text(json.dumps({"command": f"cycle {i}", "wall_seconds": 10.0 + i,
                                                            "init": "runs/start/best.pt",
                                                            "lineage": [{"command": "start", "wall_seconds": 100.0}]}))
        runs.append(run)
    out = tmp_path / "avg"
    assert main(["expression-average", "--runs", *map(str, runs), "--out", str(out), "--limit", "64"]) == 0
    net = load_expression_net(out / "best.pt")
    assert isinstance(net, ExpressionNet) and not net.training
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["average_of"] == [str(r) for r in runs]
    assert [r["command"] for r in summary["lineage"]] == ["start", "cycle 0", "cycle 1"]
    assert summary["total_wall_seconds"] == 121.0
