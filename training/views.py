"""Camera angle and distance on the training crops: selfies from below at arm's length, far faces.

The photos are mostly frontal portraits at eye height. A phone held low sees the chin large and the
brows small (keystone); a face far from the mirror's camera is cut from few pixels and enlarged to
64x64 by the crop. Both are label-preserving, so they apply to every crop with probability p, as
one grid_sample pass over the batch (the same way training/augment.py does its affine).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class ViewConfig:
    p_tilt: float = 0.4  # share of crops seen from below / above / the side (keystone)
    max_pitch: float = 0.25  # keystone strength: width change from the top to the bottom row, fraction
    max_yaw: float = 0.15
    p_far: float = 0.25  # share of crops cut from a small face (resolution lost, then enlarged)
    far_side: tuple[int, int] = (20, 40)  # pixels the face had before the crop enlarged it to 64

    def __post_init__(self) -> None:
        if not (0 <= self.p_tilt <= 1 and 0 <= self.p_far <= 1):
            raise ValueError("view probabilities must be in 0..1")


def keystone(x: torch.Tensor, pitch: torch.Tensor, yaw: torch.Tensor) -> torch.Tensor:
    """x (N, C, H, W). pitch > 0: camera below the face (rows near the bottom magnified, the top
    squeezed); yaw > 0: the right side of the image nearer the camera. Border pixels repeat."""
    h, w = x.shape[-2:]
    v, u = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    u, v = u.unsqueeze(0), v.unsqueeze(0)
    p, y = pitch.view(-1, 1, 1), yaw.view(-1, 1, 1)
    # sample a narrower span where the face is nearer the camera, so that part comes out larger,
    # across (the width factor) and along (f(v) = v + p/2 (1 - v^2) keeps the ends, slope 1 - p v)
    src_u = u * (1 - p * v) + y / 2 * (1 - u * u)
    src_v = v * (1 - y * u) + p / 2 * (1 - v * v)
    grid = torch.stack([src_u, src_v], -1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)


def far_away(x: torch.Tensor, side: int) -> torch.Tensor:
    """Down to side x side by area averaging, back up bilinearly: what a distant face looks like."""
    h, w = x.shape[-2:]
    small = F.interpolate(x, size=(side, side), mode="area")
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


def apply(x_nhwc: torch.Tensor, cfg: ViewConfig) -> torch.Tensor:
    """NHWC in [-1, 1] -> NHWC in [-1, 1], some crops tilted, some far away."""
    x = x_nhwc.permute(0, 3, 1, 2)
    n = x.shape[0]
    tilt = torch.rand(n) < cfg.p_tilt
    if tilt.any():
        k = int(tilt.sum())
        pitch = (torch.rand(k) * 2 - 1) * cfg.max_pitch
        yaw = (torch.rand(k) * 2 - 1) * cfg.max_yaw
        x = x.clone()
        x[tilt] = keystone(x[tilt], pitch, yaw)
    far = torch.rand(n) < cfg.p_far
    if far.any():
        x = x.clone()
        sides = torch.randint(cfg.far_side[0], cfg.far_side[1] + 1, (n,))
        for side in sorted(set(sides[far].tolist())):
            rows = far & (sides == side)
            x[rows] = far_away(x[rows], side)
    return x.permute(0, 2, 3, 1).contiguous()
