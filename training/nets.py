"""The networks we train, sized for int8 on a Raspberry Pi and for ~100 minutes on two CPU cores.

Both take NHWC uint8-range input scaled to [-1, 1] and permute inside, so the exported TFLite is
NHWC like the crops the edge produces and no transpose runs on the Pi.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from edge.state import EXPRESSIONS


def conv_bn(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def vgg_stages(cin: int, widths: tuple[int, ...], convs: tuple[int, ...] | None = None) -> nn.Sequential:
    """VGG stages of 3x3 conv+BN+ReLU (two per stage unless `convs` says), each closed by a 2x2 max-pool.

    Plain 3x3 convs are what int8 CPU kernels (XNNPACK) run fastest per FLOP; depthwise nets
    have fewer FLOPs but train no faster here and quantize worse.
    """
    layers: list[nn.Module] = []
    for width, n in zip(widths, convs or (2,) * len(widths), strict=True):
        for _ in range(n):
            layers += conv_bn(cin, width)
            cin = width
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class ExpressionNet(nn.Module):
    """8-conv VGG on 48x48 grey with a small fully connected head over the 3x3 map.

    The head keeps where on the face a feature fired (brows vs mouth), which global pooling
    throws away; a 64-wide bottleneck keeps the int8 file under 1.5 MB.
    """

    def __init__(self, classes: int = len(EXPRESSIONS), widths: tuple[int, ...] = (32, 64, 128, 256), hidden: int = 64,
                 convs: tuple[int, ...] = (2, 2, 2, 2)):
        super().__init__()
        self.features = vgg_stages(1, widths, convs)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.4),
            nn.Linear(widths[-1] * 3 * 3, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(0.2),
            nn.Linear(hidden, classes),
        )

    def forward(self, x_nhwc: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x_nhwc.permute(0, 3, 1, 2)))


def conv_stages(features: nn.Sequential) -> list[list[tuple[nn.Conv2d, nn.BatchNorm2d]]]:
    """The (conv, BN) pairs of vgg_stages, grouped by stage."""
    stages: list[list[tuple[nn.Conv2d, nn.BatchNorm2d]]] = [[]]
    mods = list(features)
    for i, m in enumerate(mods):
        if isinstance(m, nn.Conv2d):
            stages[-1].append((m, mods[i + 1]))
        elif isinstance(m, nn.MaxPool2d):
            stages.append([])
    return stages[:-1]


@torch.no_grad()
def deepen(net: ExpressionNet, smaller: ExpressionNet, sample_nhwc: torch.Tensor) -> None:
    """Start a deeper net as the smaller trained one (Net2DeeperNet): copied layers plus extra convs
    at the end of a stage that pass their input through unchanged.

    On two cores a trained net's epochs are too dear to throw away when adding depth: each new conv
    is a Dirac kernel, and its BN is set from `sample_nhwc`'s statistics so that it undoes its own
    normalisation; the input is post-ReLU, so the ReLU after it changes nothing either.
    """
    net.head.load_state_dict(smaller.head.state_dict())
    added: list[tuple[nn.Conv2d, nn.BatchNorm2d]] = []
    for new, old in zip(conv_stages(net.features), conv_stages(smaller.features), strict=True):
        if len(new) < len(old):
            raise ValueError("deepen only adds convs; this net has fewer in a stage than the one it starts from")
        for (conv, bn), (old_conv, old_bn) in zip(new, old):
            conv.load_state_dict(old_conv.state_dict())
            bn.load_state_dict(old_bn.state_dict())
        added += new[len(old):]
    stats: dict[nn.Conv2d, torch.Tensor] = {}
    hooks = [conv.register_forward_hook(lambda m, _i, out: stats.__setitem__(m, out)) for conv, _ in added]
    for conv, _ in added:
        nn.init.dirac_(conv.weight)
    net.eval()
    net(sample_nhwc)
    for h in hooks:
        h.remove()
    for conv, bn in added:
        out = stats[conv]
        mean, var = out.mean(dim=(0, 2, 3)), out.var(dim=(0, 2, 3), unbiased=False)
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.weight.copy_((var + bn.eps).sqrt())
        bn.bias.copy_(mean)


def load_expression_net(weights: Path) -> ExpressionNet:
    """An expression run's weights in the net it was trained as (the run's train_summary.json says
    which, if it is not the default)."""
    summary = weights.parent / "train_summary.json"
    shape = json.loads(summary.read_text()).get("net", {}) if summary.is_file() else {}
    state = torch.load(weights, map_location="cpu", weights_only=True)
    if isinstance(state.get("ema"), dict):  # a last.pt checkpoint: its EMA weights
        state = state["ema"]
    last = max((k for k in state if k.startswith("head.") and k.endswith(".weight")), key=lambda k: int(k.split(".")[1]))
    net = ExpressionNet(classes=int(state[last].shape[0]), **{k: tuple(v) for k, v in shape.items()})
    net.load_state_dict(state)
    return net.eval()


ATTRIBUTE_HEADS = {"mask": 2, "eyewear": 3, "glasses_shape": 2}


class AttributeNet(nn.Module):
    """One backbone, three heads (mask, eyewear, glasses shape) on a size x size RGB face crop (64 shipped).

    A mask covers the bottom of the crop and glasses its middle, so the heads read a flattened
    (size/16)^2 map (where) rather than a global pool (what); one shared 64-wide layer keeps the file small.
    """

    def __init__(self, widths: tuple[int, ...] = (24, 48, 96, 160), hidden: int = 64, size: int = 64):
        super().__init__()
        self.features = vgg_stages(3, widths)
        side = size // 2 ** len(widths)
        self.shared = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(widths[-1] * side * side, hidden), nn.ReLU(inplace=True),
            nn.Dropout(0.2),
        )
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, n) for name, n in ATTRIBUTE_HEADS.items()})

    def forward(self, x_nhwc: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.shared(self.features(x_nhwc.permute(0, 3, 1, 2)))
        return {name: head(z) for name, head in self.heads.items()}
