"""Two views of every training crop and a penalty when the net reads them differently (issue 23).

A visitor who steps aside, comes closer, stands under a brighter lamp or is seen mirrored is the same
person, yet a borderline face (Grace Hopper's frames sit between round and rectangular) flips with
each of those: the labels only say what the answer is, never that it must not move. So each crop is
augmented twice, independently (place, size, flip, light, blur, and here also a camera exposure that
clips highlights and a loss of resolution), and the heads' probabilities on the two views are pulled
together by the Jensen-Shannon divergence to their mean, as AugMix does (Hendrycks et al. 2020). It
needs no label, so the many crops without a frame-shape label teach that head steadiness too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from training import views


@dataclass
class PairConfig:
    weight: float = 2.0  # the divergence's share of the loss, per head
    exposure: tuple[float, float] = (0.7, 1.3)  # camera gain on [0, 1] pixels, clipped: x0.7 .. x1.3
    p_low_res: float = 0.3  # share of views cut from a smaller face (resampled down and up)
    # The live crop of the smallest face the mirror finds (40 px wide, 1.3x for the crop) has ~52 px
    # across: a view cut from 16-40 px (the first candidate, p1) wiped out thin frames, and reading the
    # two views alike then taught the net to miss them (Grace Hopper's glasses, painted thin frames).
    low_res_side: tuple[int, int] = (40, 56)

    def __post_init__(self) -> None:
        if self.weight < 0 or not 0 <= self.p_low_res <= 1 or not 0 < self.exposure[0] <= self.exposure[1]:
            raise ValueError(f"bad paired-view settings {self}")


def exposure(x_nhwc: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """A gain per crop on [0, 1] pixels, clipped the way a camera clips a bright face."""
    gain = torch.empty(x_nhwc.shape[0], 1, 1, 1).uniform_(lo, hi)
    return (((x_nhwc + 1) * 0.5 * gain).clamp(0, 1) * 2 - 1)


def low_res(x_nhwc: torch.Tensor, p: float, sides: tuple[int, int]) -> torch.Tensor:
    """Some crops down to side x side by area averaging and back up bilinearly (a far face)."""
    pick = torch.rand(x_nhwc.shape[0]) < p
    if not pick.any():
        return x_nhwc
    x = x_nhwc.permute(0, 3, 1, 2).clone()
    side = int(torch.randint(sides[0], sides[1] + 1, ()))  # one side per batch: one resampling call
    x[pick] = views.far_away(x[pick], side)
    return x.permute(0, 2, 3, 1).contiguous()


def view(x_nhwc: torch.Tensor, cfg: PairConfig) -> torch.Tensor:
    """The pair-specific part of one view, before the task's own augmentation."""
    return low_res(exposure(x_nhwc, *cfg.exposure), cfg.p_low_res, cfg.low_res_side)


def repeat_targets(targets: Any) -> Any:
    """Targets for the stacked pair: every tensor twice along the batch, nested dicts followed."""
    if isinstance(targets, dict):
        return {k: repeat_targets(v) for k, v in targets.items()}
    if isinstance(targets, torch.Tensor):
        return torch.cat([targets, targets])
    return targets


def divergence(outputs: dict[str, torch.Tensor], weight: float) -> torch.Tensor:
    """Sum over heads of the Jensen-Shannon divergence between the two halves' softmaxes."""
    total = torch.zeros(())
    for logits in outputs.values():
        a, b = logits.float().chunk(2)
        pa, pb = a.softmax(-1), b.softmax(-1)
        log_m = ((pa + pb) / 2).clamp(min=1e-7).log()
        js = (F.kl_div(log_m, pa, reduction="batchmean") + F.kl_div(log_m, pb, reduction="batchmean")) / 2
        total = total + weight * js
    return total
