"""The networks we train, sized for int8 on a Raspberry Pi and for ~100 minutes on two CPU cores.

Both take NHWC uint8-range input scaled to [-1, 1] and permute inside, so the exported TFLite is
NHWC like the crops the edge produces and no transpose runs on the Pi.
"""
from __future__ import annotations

import torch
from torch import nn


def conv_bn(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def vgg_stages(cin: int, widths: tuple[int, ...], convs_per_stage: int = 2) -> nn.Sequential:
    """VGG stages of 3x3 conv+BN+ReLU, each closed by a 2x2 max-pool.

    Plain 3x3 convs are what int8 CPU kernels (XNNPACK) run fastest per FLOP; depthwise nets
    have fewer FLOPs but train no faster here and quantize worse.
    """
    layers: list[nn.Module] = []
    for width in widths:
        for _ in range(convs_per_stage):
            layers += conv_bn(cin, width)
            cin = width
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class ExpressionNet(nn.Module):
    """8-conv VGG on 48x48 grey with a small fully connected head over the 3x3 map.

    The head keeps where on the face a feature fired (brows vs mouth), which global pooling
    throws away; a 64-wide bottleneck keeps the int8 file under 1.5 MB.
    """

    def __init__(self, classes: int = 7, widths: tuple[int, ...] = (32, 64, 128, 256), hidden: int = 64):
        super().__init__()
        self.features = vgg_stages(1, widths)
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
