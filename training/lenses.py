"""Synthetic eyewear on the attribute model's training crops, with the labels that follow from it.

The training photos hold few of the kinds of eyewear people bring to the mirror: mirrored and
coloured lenses, gradient tints, thin or frameless frames, clear lenses with strong reflections,
sunglasses pushed up into the hair. Each is painted here into the lens region found from the crop's
BlazeFace eye and ear keypoints (cached with the crops; the edge crop rule puts the eyes near
(21.6, 18.5) and (42.5, 18.5) of a 64x64 crop, 20.8 px apart), on the batch at once in torch:

| kind | painted on (eyewear label) | becomes |
|---|---|---|
| darken: tint, gradient or mirror over the lenses | clear glasses, glasses of unknown kind | sunglasses (shape label dropped) |
| recolour: another tint, gradient or mirror | sunglasses | sunglasses |
| reflection: bright bands and glare, eyes still visible | clear glasses, sunglasses | unchanged |
| paint_sun: frame, bridge, arms and dark lenses | none | sunglasses |
| paint_clear: thin or frameless frame, clear lens | none | glasses |
| hair: sunglasses above the brows, not over the eyes | none, clear glasses | unchanged (not worn) |
| shadow: dark eye shadow, no frame | none | none |

Labels are changed only where the painting decides them: darkening any worn lens makes sunglasses,
painting a whole pair on a bare face makes that pair's kind; faces whose eyewear is unknown get
nothing. A painted frame's shape is ours, not the photo's, so glasses shape is left unknown on every
relabelled face (the shape head keeps learning only from the students' labels).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

NONE, GLASSES, SUNGLASSES = 0, 1, 2
UNKNOWN, SOME_EYEWEAR = -1, -2  # as training/attributes.py codes them
KINDS = ("darken", "recolour", "reflection", "paint_sun", "paint_clear", "hair", "shadow")
# which eyewear labels each kind may be painted on
ELIGIBLE: dict[str, tuple[int, ...]] = {
    "darken": (GLASSES, SOME_EYEWEAR), "recolour": (SUNGLASSES,), "reflection": (GLASSES, SUNGLASSES),
    "paint_sun": (NONE,), "paint_clear": (NONE,), "hair": (NONE, GLASSES), "shadow": (NONE,),
}
RELABEL = {"darken": SUNGLASSES, "paint_sun": SUNGLASSES, "paint_clear": GLASSES}


@dataclass
class LensConfig:
    p: float = 0.35  # share of the eligible crops that get one painted kind
    kinds: tuple[str, ...] = KINDS
    weights: dict[str, float] = field(default_factory=lambda: {
        "darken": 1.0, "recolour": 1.0, "reflection": 1.0, "paint_sun": 1.0, "paint_clear": 0.7, "hair": 0.6,
        "shadow": 0.5})

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown lens kind(s) {sorted(unknown)}; kinds: {', '.join(KINDS)}")
        if not 0 <= self.p <= 1:
            raise ValueError(f"lens probability {self.p} is not in 0..1")


def parse_kinds(text: str) -> tuple[str, ...]:
    """'all', 'none' or a comma list of KINDS (a command-line flag)."""
    if text == "all":
        return KINDS
    if text in ("", "none"):
        return ()
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    LensConfig(kinds=kinds)  # raises on an unknown kind
    return kinds


def choose_kinds(eyewear: torch.Tensor, cfg: LensConfig) -> list[str | None]:
    """One kind (or None) per crop, among the kinds its label allows, with probability cfg.p."""
    out: list[str | None] = []
    paint = torch.rand(len(eyewear)) < cfg.p
    for label, go in zip(eyewear.tolist(), paint.tolist()):
        allowed = [k for k in cfg.kinds if label in ELIGIBLE[k]]
        if not go or not allowed:
            out.append(None)
            continue
        w = torch.tensor([cfg.weights.get(k, 1.0) for k in allowed])
        out.append(allowed[int(torch.multinomial(w, 1))])
    return out


def _u(n: int, lo: float, hi: float) -> torch.Tensor:
    return torch.empty(n).uniform_(lo, hi)


def _dark_colours(n: int) -> torch.Tensor:
    """Sunglass tints in [0, 1] RGB: grey, brown, green, blue, rose, all dark."""
    hue = torch.rand(n, 1) * 2 * math.pi
    sat = _u(n, 0.0, 0.6).unsqueeze(1)
    phase = torch.tensor([0.0, 2 * math.pi / 3, 4 * math.pi / 3])
    base = 0.5 + 0.5 * sat * torch.cos(hue + phase)
    return base * _u(n, 0.05, 0.35).unsqueeze(1)


def _mirror_colours(n: int) -> torch.Tensor:
    """Mirror coatings: silver, gold, blue, green, red-orange; bright, saturated or not."""
    hue = torch.rand(n, 1) * 2 * math.pi
    sat = _u(n, 0.0, 0.9).unsqueeze(1)
    phase = torch.tensor([0.0, 2 * math.pi / 3, 4 * math.pi / 3])
    return (0.5 + 0.5 * sat * torch.cos(hue + phase)) * _u(n, 0.45, 0.95).unsqueeze(1)


def _segment_distance(px: torch.Tensor, py: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distance of pixel centres (1, H, W) to segments a->b given as (N, 2): (N, H, W)."""
    ax, ay, bx, by = (v.view(-1, 1, 1) for v in (a[:, 0], a[:, 1], b[:, 0], b[:, 1]))
    dx, dy = bx - ax, by - ay
    t = (((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy).clamp(min=1e-6)).clamp(0, 1)
    return torch.hypot(px - ax - t * dx, py - ay - t * dy)


@dataclass
class Pair:
    """A pair of lenses in crop pixels: centres (N, 2, 2), half-width a, half-height b, superellipse
    exponent (2 round .. 6 rectangular), the roll of the eye line."""

    centres: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor
    power: torch.Tensor
    angle: torch.Tensor

    def radius(self, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
        """Superellipse radius per lens: 1 on the rim. (N, 2, H, W)"""
        cos, sin = torch.cos(self.angle).view(-1, 1, 1, 1), torch.sin(self.angle).view(-1, 1, 1, 1)
        dx = px - self.centres[..., 0, None, None]
        dy = py - self.centres[..., 1, None, None]
        u, v = cos * dx + sin * dy, -sin * dx + cos * dy
        p = self.power.view(-1, 1, 1, 1)
        a, b = self.a.view(-1, 1, 1, 1), self.b.view(-1, 1, 1, 1)
        return ((u / a).abs().clamp(min=1e-6) ** p + (v / b).abs().clamp(min=1e-6) ** p) ** (1 / p)

    def inside(self, r: torch.Tensor) -> torch.Tensor:
        """Anti-aliased lens area of both lenses from their radius map: (N, H, W) in [0, 1]."""
        edge = (1 - r) * torch.sqrt(self.a * self.b).view(-1, 1, 1, 1)  # ~ pixels inside the rim
        return (edge + 0.5).clamp(0, 1).amax(1)

    def rim(self, r: torch.Tensor, thickness: torch.Tensor) -> torch.Tensor:
        dist = (r - 1).abs() * torch.sqrt(self.a * self.b).view(-1, 1, 1, 1)
        return (thickness.view(-1, 1, 1, 1) / 2 + 0.5 - dist).clamp(0, 1).amax(1)


def lens_pair(keypoints: torch.Tensor, lift: torch.Tensor | None = None) -> Pair:
    """Lenses over the eyes (or lifted by `lift` eye distances, onto the forehead), sized from the
    eye distance: a lens is ~0.8 of it wide; its centre sits a little outward of and below the pupil."""
    n = len(keypoints)
    eyes = keypoints[:, :2]
    d = (eyes[:, 1] - eyes[:, 0]).norm(dim=1).clamp(min=4.0)
    angle = torch.atan2(eyes[:, 1, 1] - eyes[:, 0, 1], eyes[:, 1, 0] - eyes[:, 0, 0])
    along = torch.stack([torch.cos(angle), torch.sin(angle)], 1)  # image-left eye -> image-right eye
    down = torch.stack([-torch.sin(angle), torch.cos(angle)], 1)
    out = (_u(n, 0.0, 0.08) * d).unsqueeze(1)
    drop = (_u(n, 0.0, 0.1) * d).unsqueeze(1)
    if lift is not None:
        drop = drop - (lift * d).unsqueeze(1)
    centres = torch.stack([eyes[:, 0] - out * along + drop * down, eyes[:, 1] + out * along + drop * down], 1)
    a = _u(n, 0.38, 0.5) * d
    b = a * _u(n, 0.65, 0.95)
    return Pair(centres, a, b, _u(n, 2.0, 6.0), angle)


def _frame(pair: Pair, r: torch.Tensor, keypoints: torch.Tensor, px: torch.Tensor, py: torch.Tensor,
           thickness: torch.Tensor, arms: bool) -> torch.Tensor:
    """Rims, the bridge over the nose and (if worn) the arms towards the ears: (N, H, W) alpha."""
    alpha = pair.rim(r, thickness)
    cos, sin = torch.cos(pair.angle), torch.sin(pair.angle)
    along = torch.stack([cos, sin], 1)
    up = torch.stack([sin, -cos], 1)
    lift = (0.3 * pair.b).unsqueeze(1) * up
    inner_l = pair.centres[:, 0] + pair.a.unsqueeze(1) * along * 0.95 + lift
    inner_r = pair.centres[:, 1] - pair.a.unsqueeze(1) * along * 0.95 + lift
    half = (thickness / 2 + 0.5).view(-1, 1, 1)
    alpha = torch.maximum(alpha, (half - _segment_distance(px, py, inner_l, inner_r)).clamp(0, 1))
    if arms:
        outer_l = pair.centres[:, 0] - pair.a.unsqueeze(1) * along * 0.95 + lift
        outer_r = pair.centres[:, 1] + pair.a.unsqueeze(1) * along * 0.95 + lift
        for start, ear in ((outer_l, keypoints[:, 4]), (outer_r, keypoints[:, 5])):
            end = ear + 0.0 * up + (start - ear) * 0.15  # stop just short of the ear
            alpha = torch.maximum(alpha, (half - _segment_distance(px, py, start, end)).clamp(0, 1))
    return alpha


def _lens_fill(pair: Pair, inside: torch.Tensor, px: torch.Tensor, py: torch.Tensor, dark: bool
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sunglass lenses: a tint (flat or graded darker at the top) or a mirror coating with a sky
    gradient. Returns alpha (N, H, W) and colour (N, 3, H, W)."""
    n = len(pair.a)
    mirror = torch.rand(n) < 0.35
    top = torch.where(mirror, _u(n, 0.9, 1.0), _u(n, 0.75, 0.97))
    graded = torch.rand(n) < 0.4
    bottom = torch.where(graded & ~mirror, top * _u(n, 0.6, 0.85), top)
    cy = pair.centres[..., 1].mean(1).view(-1, 1, 1)
    t = ((py - (cy - pair.b.view(-1, 1, 1))) / (2 * pair.b.view(-1, 1, 1))).clamp(0, 1)  # 0 at the lens top
    alpha = inside * (top.view(-1, 1, 1) + (bottom - top).view(-1, 1, 1) * t)
    tint = _dark_colours(n).view(n, 3, 1, 1)
    coat = _mirror_colours(n).view(n, 3, 1, 1)
    sky = 1.15 - 0.5 * t.unsqueeze(1)  # mirrors show a brighter sky above a darker ground
    colour = torch.where(mirror.view(n, 1, 1, 1), (coat * sky).clamp(0, 1), tint.expand(n, 3, *px.shape[-2:]))
    if not dark:  # clear lenses: at most a faint grey haze
        alpha = inside * _u(n, 0.0, 0.12).view(-1, 1, 1)
        colour = torch.full((n, 3, *px.shape[-2:]), 0.6)
    return alpha, colour


def _reflection(pair: Pair, inside: torch.Tensor, px: torch.Tensor, py: torch.Tensor,
                strength: tuple[float, float]) -> torch.Tensor:
    """Specular bands across the lenses (a window, a ring light), slanted, partial: (N, H, W) alpha."""
    n = len(pair.a)
    phi = _u(n, -1.2, 1.2).view(-1, 1, 1)
    cx, cy = pair.centres[..., 0].mean(1).view(-1, 1, 1), pair.centres[..., 1].mean(1).view(-1, 1, 1)
    s = (px - cx) * torch.cos(phi) + (py - cy) * torch.sin(phi)
    alpha = torch.zeros(n, *px.shape[-2:])
    for _ in range(2):
        offset = (_u(n, -1.0, 1.0) * pair.a).view(-1, 1, 1)
        width = (_u(n, 0.1, 0.35) * pair.a).view(-1, 1, 1)
        band = (1 - ((s - offset).abs() / width)).clamp(0, 1) ** 0.7
        alpha = torch.maximum(alpha, band * _u(n, *strength).view(-1, 1, 1))
    return alpha * inside


def _shadow(keypoints: torch.Tensor, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Soft dark eye shadow on the upper lids and below the brows, no rim: (N, H, W) alpha."""
    n = len(keypoints)
    eyes = keypoints[:, :2]
    d = (eyes[:, 1] - eyes[:, 0]).norm(dim=1).clamp(min=4.0).view(-1, 1, 1)
    strength = _u(n, 0.35, 0.7).view(-1, 1, 1)
    alpha = torch.zeros(n, *px.shape[-2:])
    for i in range(2):
        ex, ey = eyes[:, i, 0].view(-1, 1, 1), (eyes[:, i, 1].view(-1, 1, 1) - 0.12 * d)
        r = ((px - ex) / (0.3 * d)) ** 2 + ((py - ey) / (0.13 * d)) ** 2
        alpha = torch.maximum(alpha, (1 - r).clamp(0, 1) ** 0.5 * strength)
    return alpha


def paint(x01: torch.Tensor, keypoints: torch.Tensor, kind: str) -> torch.Tensor:
    """Paint one kind on crops (N, 3, H, W) in [0, 1]; keypoints (N, 6, 2) in crop pixels."""
    n, _, h, w = x01.shape
    py, px = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    px, py = px.unsqueeze(0), py.unsqueeze(0)
    out = x01
    if kind == "shadow":
        col = _dark_colours(n).view(n, 3, 1, 1) * 0.6
        alpha = _shadow(keypoints, px, py).unsqueeze(1)
        return out * (1 - alpha) + col * alpha
    lift = _u(n, 0.75, 1.0) if kind == "hair" else None  # above the brows, never over the eyes
    pair = lens_pair(keypoints, lift)
    if kind == "hair":
        pair.b = pair.b * _u(n, 0.45, 0.7)  # seen from the front, lenses lying on the head look flat
    r = pair.radius(px, py)  # the costly part (a per-image power): once per batch
    inside = pair.inside(r)
    if kind in ("darken", "recolour", "paint_sun", "hair"):
        alpha, colour = _lens_fill(pair, inside, px, py, dark=True)
        out = out * (1 - alpha.unsqueeze(1)) + colour * alpha.unsqueeze(1)
    if kind in ("paint_sun", "paint_clear", "hair"):
        frameless = (torch.rand(n) < 0.3) if kind == "paint_clear" else torch.zeros(n, dtype=torch.bool)
        thick = torch.where(frameless, _u(n, 0.45, 0.8), _u(n, 0.7, 2.0))
        if kind == "paint_clear":
            alpha, colour = _lens_fill(pair, inside, px, py, dark=False)
            out = out * (1 - alpha.unsqueeze(1)) + colour * alpha.unsqueeze(1)
        frame_alpha = _frame(pair, r, keypoints, px, py, thick, arms=kind != "hair")
        # frameless: only the lens edges show, faintly, but they must show: an invisible pair would
        # teach the model to see glasses on bare faces
        frame_alpha = frame_alpha * torch.where(frameless, _u(n, 0.5, 0.8), _u(n, 0.85, 1.0)).view(-1, 1, 1)
        metal = torch.rand(n) < 0.3  # gold or silver wire instead of a dark plastic frame
        frame_col = torch.where(metal.view(-1, 1), _mirror_colours(n), _dark_colours(n) * 0.7).view(n, 3, 1, 1)
        out = out * (1 - frame_alpha.unsqueeze(1)) + frame_col * frame_alpha.unsqueeze(1)
    reflect = {"reflection": (0.35, 0.8), "recolour": (0.3, 0.9), "paint_sun": (0.0, 0.6),
               "paint_clear": (0.0, 0.5), "darken": (0.0, 0.7)}.get(kind)
    if reflect is not None:
        alpha = _reflection(pair, inside, px, py, reflect).unsqueeze(1)
        white = (0.9 + 0.1 * torch.rand(n, 3, 1, 1))
        out = out * (1 - alpha) + white * alpha
    return out.clamp(0, 1)


def apply(x_nhwc: torch.Tensor, keypoints: torch.Tensor, targets: dict[str, torch.Tensor], cfg: LensConfig
          ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """Paint on a batch (NHWC in [-1, 1]); returns the batch, the targets with the labels the
    painting decides, and which rows were relabelled (their teacher targets no longer apply)."""
    eyewear = targets["eyewear"].clone()
    shape = targets["glasses_shape"].clone()
    relabelled = torch.zeros(len(eyewear), dtype=torch.bool)
    kinds = choose_kinds(eyewear, cfg)
    if not any(kinds):
        return x_nhwc, targets, relabelled
    x = (x_nhwc.permute(0, 3, 1, 2) + 1) / 2
    x = x.clone()
    for kind in sorted({k for k in kinds if k}):
        rows = torch.tensor([i for i, k in enumerate(kinds) if k == kind])
        x[rows] = paint(x[rows], keypoints[rows], kind)
        if kind in RELABEL:
            eyewear[rows] = RELABEL[kind]
            shape[rows] = UNKNOWN
            relabelled[rows] = True
    return (x * 2 - 1).permute(0, 2, 3, 1).contiguous(), targets | {"eyewear": eyewear, "glasses_shape": shape}, relabelled
