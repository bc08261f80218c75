"""One training loop for every model: schedule, EMA, checkpoints, resume, early stop, log.

Models differ in data, heads and losses; those come in as a `Task`. Everything about running an
epoch on two cores, surviving a stop, and choosing the checkpoint on val lives here once.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch
from torch import nn

log = logging.getLogger("training")


class Task(Protocol):
    """What a model brings to the loop."""

    train_size: int  # training examples an epoch goes through

    def train_batches(self, batch_size: int, generator: torch.Generator) -> Any:
        """Yield (inputs_nhwc_float, targets) for one epoch, augmented."""

    def loss(self, outputs: Any, targets: Any) -> torch.Tensor: ...

    def evaluate(self, model: nn.Module, split: str) -> dict[str, Any]:
        """Metrics on a split; must include 'score', the number selection maximizes."""


@dataclass
class TrainConfig:
    epochs: int = 60
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_frac: float = 0.1
    ema_decay: float = 0.999
    patience: int = 20  # epochs without a better val score before stopping early
    threads: int = 2
    seed: int = 0
    max_minutes: float = 0.0  # 0 = no wall-clock cap; else stop cleanly and keep the best
    device: str = "cpu"  # "cuda" adds mixed precision; the same recipe runs on either


def pick_device(want: str = "auto") -> str:
    """auto: CUDA, then Apple's MPS, then the CPU; an explicit device that is absent is an error."""
    has = {"cuda": torch.cuda.is_available(),
           "mps": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()), "cpu": True}
    if want == "auto":
        return next(d for d in ("cuda", "mps", "cpu") if has[d])
    if not has.get(want, False):
        raise ValueError(f"--device {want}: not available here (have: {', '.join(d for d, ok in has.items() if ok)})")
    return want


@dataclass
class History:
    epochs: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float = -math.inf
    wall_seconds: float = 0.0


class EMA:
    """Exponential moving average of weights: a free ~half point on noisy FER labels."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        # Warm-up (as in timm): early on the average must not drag in the random initial weights,
        # whose BatchNorm statistics no longer match; a fixed 0.999 from step 0 collapses to one class.
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for ema_t, t in zip(self.model.state_dict().values(), model.state_dict().values()):
            if ema_t.dtype.is_floating_point:
                ema_t.mul_(decay).add_(t.detach(), alpha=1 - decay)
            else:
                ema_t.copy_(t)


def _lr_at(progress: float, cfg: TrainConfig) -> float:
    """Linear warm-up then cosine to zero (a one-cycle shape), over progress in [0, 1]."""
    if progress < cfg.warmup_frac:
        return cfg.lr * max(progress, 1e-3) / cfg.warmup_frac
    t = (progress - cfg.warmup_frac) / max(1e-9, 1 - cfg.warmup_frac)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def _progress(step: int, total: int, elapsed_s: float, cfg: TrainConfig) -> float:
    """Steps or wall time, whichever runs out first: on a shared 2-core machine the throughput
    varies, and a schedule tied to a time budget still anneals fully and ends on time."""
    p = step / max(1, total)
    if cfg.max_minutes:
        p = max(p, elapsed_s / (cfg.max_minutes * 60))
    return p


def train(
    model: nn.Module,
    task: Task,
    cfg: TrainConfig,
    out_dir: Path,
    steps_per_epoch: int,
    resume: bool = True,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[nn.Module, History]:
    """Train, checkpoint every epoch to out_dir/last.pt, keep the best EMA weights in best.pt."""
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model = model.to(cfg.device, memory_format=torch.channels_last)
    ema = EMA(model, cfg.ema_decay)
    amp = cfg.device == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
    )
    history = History()
    start_epoch = 0
    last = out_dir / "last.pt"
    if resume and last.exists():
        ck = torch.load(last, weights_only=False, map_location=cfg.device)
        model.load_state_dict(ck["model"])
        ema.model.load_state_dict(ck["ema"])
        ema.updates = ck.get("ema_updates", 0)
        opt.load_state_dict(ck["opt"])
        history = History(**ck["history"])
        start_epoch = ck["epoch"] + 1
        log.info("resumed from %s at epoch %d", last, start_epoch)
    total_steps = cfg.epochs * steps_per_epoch
    gen = torch.Generator().manual_seed(cfg.seed)
    t_start = time.monotonic() - history.wall_seconds
    for epoch in range(start_epoch, cfg.epochs):
        gen.manual_seed(cfg.seed * 1000 + epoch)
        model.train()
        t0 = time.monotonic()
        seen, loss_sum = 0, 0.0
        progress = 0.0
        for i, (x, targets) in enumerate(task.train_batches(cfg.batch_size, gen)):
            step = epoch * steps_per_epoch + i
            progress = _progress(step, total_steps, time.monotonic() - t_start, cfg)
            if progress >= 1.0:
                break
            for group in opt.param_groups:
                group["lr"] = _lr_at(progress, cfg)
            with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=amp):
                outputs = model(x)
                loss = task.loss(outputs, targets)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            ema.update(model)
            seen += x.shape[0]
            loss_sum += loss.item() * x.shape[0]
        train_s = time.monotonic() - t0
        metrics = task.evaluate(ema.model, "val")
        raw_score = task.evaluate(model, "val")["score"]
        row = {
            "epoch": epoch,
            "train_loss": loss_sum / max(1, seen),
            "images_per_s": seen / train_s,
            "lr": opt.param_groups[0]["lr"],
            "progress": round(progress, 4),
            "val_raw_score": raw_score,
            **{f"val_{k}": v for k, v in metrics.items() if not isinstance(v, (list, dict))},
        }
        history.epochs.append(row)
        if metrics["score"] > history.best_score:
            history.best_score, history.best_epoch = metrics["score"], epoch
            torch.save({k: v.cpu() for k, v in ema.model.state_dict().items()}, out_dir / "best.pt")
        history.wall_seconds = time.monotonic() - t_start
        torch.save(
            {"model": model.state_dict(), "ema": ema.model.state_dict(), "opt": opt.state_dict(),
             "history": asdict(history), "epoch": epoch, "ema_updates": ema.updates, "config": asdict(cfg)},
            last,
        )
        (out_dir / "history.json").write_text(json.dumps(asdict(history), indent=1))
        eta = history.wall_seconds * (1 - progress) / max(progress, 1e-6)
        log.info(
            "epoch %d/%d loss %.4f val %.4f (raw %.4f, best %.4f @%d) %.0f img/s %.0fs elapsed, %.0f%% done, "
            "ETA %.0f min", epoch + 1, cfg.epochs, row["train_loss"], metrics["score"], raw_score,
            history.best_score, history.best_epoch + 1, row["images_per_s"], history.wall_seconds,
            100 * progress, eta / 60,
        )
        if on_epoch:
            on_epoch(row)
        if epoch - history.best_epoch >= cfg.patience:
            log.info("early stop: no better val score for %d epochs", cfg.patience)
            break
        if progress >= 1.0 or (cfg.max_minutes and history.wall_seconds >= cfg.max_minutes * 60):
            log.info("time budget of %.0f minutes used: schedule complete", cfg.max_minutes)
            break
    model.load_state_dict(torch.load(out_dir / "best.pt", map_location=cfg.device))
    return model.eval(), history


def predict(model: nn.Module, x_nhwc: torch.Tensor, batch_size: int = 512, flip: bool = False) -> np.ndarray:
    """Softmax probabilities (or a dict of them for multi-head models); flip averages with the mirror."""
    model.eval()
    device = next(model.parameters()).device
    chunks: list[Any] = []
    with torch.no_grad():
        for i in range(0, len(x_nhwc), batch_size):
            xb = x_nhwc[i:i + batch_size].to(device)
            out = model(xb)
            if flip:
                out_f = model(torch.flip(xb, dims=[2]))
                out = _map(lambda a, b: (a.softmax(-1) + b.softmax(-1)) / 2, out, out_f)
            else:
                out = _map(lambda a: a.softmax(-1), out)
            chunks.append(_map(lambda a: a.float().cpu(), out))
    if isinstance(chunks[0], dict):
        return {k: torch.cat([c[k] for c in chunks]).numpy() for k in chunks[0]}  # type: ignore[return-value]
    return torch.cat(chunks).numpy()


def lineage_summary(init: Path | None, wall_seconds: float) -> dict[str, Any]:
    """Where a run started (`--init`) and the earlier runs it descends from, oldest first.

    A further cycle from earlier weights buys more epochs on two cores than one longer run could;
    the lineage keeps the total training time honest in the manifest.
    """
    previous = init.parent / "train_summary.json" if init else None
    lineage: list[dict[str, Any]] = []
    if previous and previous.exists():
        summary = json.loads(previous.read_text())
        lineage = summary.get("lineage", []) + [{k: v for k, v in summary.items() if k != "lineage"}]
    return {"init": str(init) if init else None, "lineage": lineage,
            "total_wall_seconds": round(wall_seconds + sum(r.get("wall_seconds", 0) for r in lineage), 1)}


def follow_teacher(hard: torch.Tensor, logits: torch.Tensor, soft: torch.Tensor, weight: float) -> torch.Tensor:
    """Blend the label loss with cross-entropy to a teacher's probabilities (born-again distillation):
    noisy or ambiguous labels ask the net to be sure where the earlier models were not."""
    follow = -(soft * logits.log_softmax(-1)).sum(-1).mean()
    return (1 - weight) * hard + weight * follow


def _map(fn: Callable[..., torch.Tensor], *outs: Any) -> Any:
    if isinstance(outs[0], dict):
        return {k: fn(*(o[k] for o in outs)) for k in outs[0]}
    return fn(*outs)
