"""Batch augmentation in torch, on the batch as a whole.

With two cores every cycle spent in a per-image Python loader is a cycle the convolutions do not
get; one affine_grid + grid_sample over the batch costs a few percent of a training step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class AugmentConfig:
    flip: bool = True
    max_rotate_deg: float = 15.0
    scale: tuple[float, float] = (0.85, 1.15)
    max_shift: float = 0.10  # fraction of the image
    brightness: float = 0.25  # +- in [-1, 1] units
    contrast: tuple[float, float] = (0.7, 1.3)
    erase_p: float = 0.5
    erase_area: tuple[float, float] = (0.02, 0.20)
    colour_cast: float = 0.0  # per-channel gain +- (colour images only)
    blur_p: float = 0.0


def random_affine(x: torch.Tensor, cfg: AugmentConfig) -> torch.Tensor:
    """x: NCHW float. Rotation, scale, shift and flip as one sampling pass."""
    n = x.shape[0]
    angle = (torch.rand(n) * 2 - 1) * math.radians(cfg.max_rotate_deg)
    scale = torch.empty(n).uniform_(*cfg.scale)
    flip = torch.where(torch.rand(n) < 0.5, -1.0, 1.0) if cfg.flip else torch.ones(n)
    tx, ty = ((torch.rand(2, n) * 2 - 1) * cfg.max_shift * 2)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def photometric(x: torch.Tensor, cfg: AugmentConfig) -> torch.Tensor:
    """x in [-1, 1]: contrast about the image mean, brightness, optional per-channel cast."""
    n, c = x.shape[:2]
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = torch.empty(n, 1, 1, 1).uniform_(*cfg.contrast)
    bright = (torch.rand(n, 1, 1, 1) * 2 - 1) * cfg.brightness
    x = (x - mean) * contrast + mean + bright
    if cfg.colour_cast and c == 3:
        x = (x + 1) * (1 + (torch.rand(n, 3, 1, 1) * 2 - 1) * cfg.colour_cast) - 1
    if cfg.blur_p:
        blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        pick = (torch.rand(n, 1, 1, 1) < cfg.blur_p).float()
        x = pick * blurred + (1 - pick) * x
    return x.clamp(-1, 1)


def random_erase(x: torch.Tensor, cfg: AugmentConfig) -> torch.Tensor:
    """Occlude a random rectangle with noise: hands, hair and scarves at the booth."""
    n, c, h, w = x.shape
    area = torch.empty(n).uniform_(*cfg.erase_area) * h * w
    aspect = torch.exp(torch.empty(n).uniform_(math.log(0.3), math.log(3.3)))
    eh = (area * aspect).sqrt().clamp(1, h).long()
    ew = (area / aspect).sqrt().clamp(1, w).long()
    y0 = (torch.rand(n) * (h - eh + 1).float()).long()
    x0 = (torch.rand(n) * (w - ew + 1).float()).long()
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    box = (
        (rows >= y0.view(n, 1, 1)) & (rows < (y0 + eh).view(n, 1, 1))
        & (cols >= x0.view(n, 1, 1)) & (cols < (x0 + ew).view(n, 1, 1))
    )
    box &= (torch.rand(n) < cfg.erase_p).view(n, 1, 1)
    noise = torch.rand_like(x) * 2 - 1
    return torch.where(box.unsqueeze(1), noise, x)


def augment(x_nhwc: torch.Tensor, cfg: AugmentConfig) -> torch.Tensor:
    """NHWC in [-1, 1] -> augmented NHWC in [-1, 1]."""
    x = x_nhwc.permute(0, 3, 1, 2)
    x = random_affine(x, cfg)
    x = photometric(x, cfg)
    if cfg.erase_p:
        x = random_erase(x, cfg)
    return x.permute(0, 2, 3, 1).contiguous()
