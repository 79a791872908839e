"""Training a PRM or ORM on step-labelled traces (`ponder train prm|orm`).

PRM: binary cross-entropy at every labelled step boundary, soft targets allowed (Math-Shepherd's
soft labels are the fraction of rollouts that reached the answer). ORM: one target per trace, the
verified outcome, read at the trace's last token (Cobbe et al. 2021 train at every token; one
target per trace is the simpler, common variant). The backbone is fine-tuned with the head.

Left out: learning-rate schedules beyond linear warm-up, gradient accumulation, mixed precision,
and class re-weighting (the held-out metrics report both classes so imbalance is visible).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Literal

import torch

from ponder.rm.labels import LabeledTrace
from ponder.rm.model import RewardModel
from ponder.types import PonderError

log = logging.getLogger(__name__)


@dataclass
class RMTrainConfig:
    """Training a process (PRM) or outcome (ORM) reward model on step labels.

    kind: prm (one score per step) | orm (one score per response)
    data: step-label jsonl (docs/rm.md); `ponder label` writes one
    backbone: model name or folder (ponder.models), or an existing RM folder to continue
    out: folder the reward model is saved to
    steps: optimiser steps
    batch_size: traces per step
    lr: learning rate of the backbone
    head_lr: learning rate of the scoring head
    warmup: linear warm-up steps
    weight_decay: AdamW weight decay
    hard_labels: threshold soft labels at 0.5
    val_frac: share of traces held out for validation
    seed: seed of the split and the training
    threads: torch CPU threads
    log_every: log the loss every k steps
    """

    kind: Literal["prm", "orm"] = "prm"
    data: str = ""  # step-label jsonl (see docs/rm.md); `ponder label` writes one
    backbone: str = "tiny"  # model name or folder (ponder.models), or an existing RM folder to continue
    out: str = "runs/prm"
    steps: int = 300
    batch_size: int = 16
    lr: float = 3e-4
    head_lr: float = 3e-3
    warmup: int = 20
    weight_decay: float = 0.0
    hard_labels: bool = False  # threshold soft labels at 0.5
    val_frac: float = 0.1
    seed: int = 0
    threads: int = 2
    log_every: int = 20


@dataclass
class TrainLog:
    losses: list[float] = field(default_factory=list)
    val: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def targets_of(trace: LabeledTrace, kind: str, hard: bool) -> list[float | None]:
    """Per-boundary targets (None = no loss there). ORM: the outcome at the last step only."""
    if kind == "orm":
        if trace.outcome is None:
            raise PonderError(f"trace {trace.id!r} has no verified outcome; an ORM trains on outcomes")
        return [None] * (len(trace.steps) - 1) + [float(trace.outcome)]
    labels = trace.labels
    return [None if v is None else (float(v >= 0.5) if hard else float(v)) for v in labels]


def masked_bce(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy over labelled positions. logits, targets, mask: (N,) -> ()."""
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")  # (N,)
    return (loss * mask).sum() / mask.sum().clamp(min=1)


def batch_loss(rm: RewardModel, traces: list[LabeledTrace], kind: str, hard: bool) -> torch.Tensor:
    """One forward pass over a batch of traces and the masked BCE over all their labelled steps."""
    enc = [rm.encode(t.problem.question, t.steps, where=f"trace {t.id!r}") for t in traces]
    logits = torch.cat(rm(enc))  # (sum S,)
    raw = [v for t in traces for v in targets_of(t, kind, hard)]
    targets = torch.tensor([0.0 if v is None else v for v in raw])
    mask = torch.tensor([0.0 if v is None else 1.0 for v in raw])
    return masked_bce(logits, targets.to(logits.device), mask.to(logits.device))


def split_train_val(traces: list[LabeledTrace], val_frac: float, seed: int) -> tuple[list, list]:
    """Held-out traces by problem (all traces of a problem on one side), so validation is fair."""
    qs = sorted({t.problem.question for t in traces})
    random.Random(seed).shuffle(qs)
    held = set(qs[: int(round(len(qs) * val_frac))])
    return [t for t in traces if t.problem.question not in held], [t for t in traces if t.problem.question in held]


def _optimizer(rm: RewardModel, cfg: RMTrainConfig) -> torch.optim.Optimizer:
    groups = [
        {"params": list(rm.backbone.parameters()), "lr": cfg.lr},
        {"params": list(rm.head.parameters()), "lr": cfg.head_lr},
    ]
    return torch.optim.AdamW(groups, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))


@torch.no_grad()
def val_loss(rm: RewardModel, traces: list[LabeledTrace], kind: str, hard: bool, batch_size: int) -> float:
    rm.eval()
    losses = [batch_loss(rm, traces[i : i + batch_size], kind, hard).item() for i in range(0, len(traces), batch_size)]
    rm.train()
    return sum(losses) / max(len(losses), 1)


def train_reward_model(rm: RewardModel, traces: list[LabeledTrace], cfg: RMTrainConfig, progress=None) -> TrainLog:
    """Fine-tune `rm` on `traces` for cfg.steps optimizer steps; returns the loss curve."""
    if rm.kind != cfg.kind:
        raise PonderError(f"config says kind {cfg.kind!r} but the model is a {rm.kind!r}")
    if not traces:
        raise PonderError("no training traces; label some with `ponder label`")
    for t in traces:
        if t.delimiter != rm.delimiter:
            raise PonderError(
                f"trace {t.id!r} was split at {t.delimiter!r} but the reward model's delimiter is {rm.delimiter!r}"
            )
    train, val = split_train_val(traces, cfg.val_frac, cfg.seed)
    if not train:
        raise PonderError(f"val_frac={cfg.val_frac} leaves no training traces")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng, opt, out, t0 = random.Random(cfg.seed), _optimizer(rm, cfg), TrainLog(), time.perf_counter()
    base_lrs = [g["lr"] for g in opt.param_groups]
    rm.train()
    for step in range(cfg.steps):
        for g, lr in zip(opt.param_groups, base_lrs):
            g["lr"] = lr * min(1.0, (step + 1) / max(cfg.warmup, 1))
        loss = batch_loss(rm, rng.sample(train, min(cfg.batch_size, len(train))), cfg.kind, cfg.hard_labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(rm.parameters(), 1.0)
        opt.step()
        out.losses.append(loss.item())
        if val and ((step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps):
            out.val.append({"step": step + 1, "val_loss": val_loss(rm, val, cfg.kind, cfg.hard_labels, cfg.batch_size)})
            log.info("step %d loss %.4f val %.4f", step + 1, loss.item(), out.val[-1]["val_loss"])
        if progress is not None:
            progress(step + 1, loss.item())
    rm.eval()
    out.seconds = time.perf_counter() - t0
    return out
