"""Training a PRM or ORM on step-labelled traces (`ponder train prm|orm`).

PRM: binary cross-entropy at every labelled step boundary, soft targets allowed (Math-Shepherd's
soft labels are the fraction of rollouts that reached the answer). ORM: one target per trace, the
verified outcome, read at the trace's last token (Cobbe et al. 2021 train at every token; one
target per trace is the simpler, common variant). The backbone is fine-tuned with the head.

The loop, optimiser, schedule, checkpoints (each one a loadable reward-model folder) and
metrics are the shared ones of train/ (Session), with two parameter groups: the backbone at
optim.lr, the head at head_lr.

`train.precision` and `train.grad_checkpointing` (of the backbone) apply as for every trainer.
Under torchrun (DDP) every rank draws the same global batch (seeded by run seed and step) and
trains on its rank-strided share `batch[rank::world]`, with the BCE normalised by the labelled
steps of the whole batch, so W ranks take the single-process step; only rank 0 validates.
Left out: gradient accumulation, LoRA, FSDP (its own parameter groups), and class re-weighting
(the held-out metrics report both classes so imbalance is visible).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from ponder.rm.labels import LabeledTrace
from ponder.rm.model import RewardModel
from ponder.train.common import OptimConfig, RunConfig, TrainConfig
from ponder.types import PonderError

log = logging.getLogger(__name__)


def _rm_optim() -> OptimConfig:
    return OptimConfig(lr=3e-4, betas=(0.9, 0.98), warmup_steps=20, schedule="constant")


def _rm_run() -> RunConfig:
    return RunConfig(out="runs/prm", steps=300, save_every=100, log_every=1)


@dataclass
class RMTrainConfig:
    """Training a process (PRM) or outcome (ORM) reward model on step labels.

    kind: prm (one score per step) | orm (one score per response)
    data: step-label jsonl (docs/rm.md); `ponder label` writes one
    backbone: model name or folder (ponder.models), or an existing RM folder to continue
    batch_size: traces per step
    head_lr: learning rate of the scoring head (the backbone's is optim.lr)
    hard_labels: threshold soft labels at 0.5
    val_frac: share of traces held out for validation
    val_every: held-out loss every k steps (and at the end)
    """

    kind: Literal["prm", "orm"] = "prm"
    data: str = ""  # step-label jsonl (see docs/rm.md); `ponder label` writes one
    backbone: str = "tiny"  # model name or folder (ponder.models), or an existing RM folder to continue
    batch_size: int = 16
    head_lr: float = 3e-3  # the head's learning rate (the backbone's is optim.lr)
    hard_labels: bool = False  # threshold soft labels at 0.5
    val_frac: float = 0.1
    val_every: int = 20  # held-out loss every k steps (and at the end)
    optim: OptimConfig = field(default_factory=_rm_optim)
    run: RunConfig = field(default_factory=_rm_run)
    train: TrainConfig = field(default_factory=TrainConfig)


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


def masked_bce(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, total: float | None = None
) -> torch.Tensor:
    """Mean binary cross-entropy over labelled positions (summed and divided by `total`, the
    labelled positions of the global batch, when given). logits, targets, mask: (N,) -> ()."""
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")  # (N,)
    return (loss * mask).sum() / (max(total, 1.0) if total is not None else mask.sum().clamp(min=1))


def labelled(traces: list[LabeledTrace], kind: str, hard: bool) -> int:
    """How many positions of these traces carry a target."""
    return sum(v is not None for t in traces for v in targets_of(t, kind, hard))


def batch_loss(
    rm: RewardModel, traces: list[LabeledTrace], kind: str, hard: bool, total: float | None = None
) -> torch.Tensor:
    """One forward pass over a batch of traces and the masked BCE over all their labelled steps
    (normalised by `total` labelled steps when this batch is one rank's share of a larger one)."""
    plain = getattr(rm, "module", rm)  # under DDP `rm` is the wrapper; encoding is the model's
    enc = [plain.encode(t.problem.question, t.steps, where=f"trace {t.id!r}") for t in traces]
    logits = torch.cat(rm(enc))  # (sum S,)
    raw = [v for t in traces for v in targets_of(t, kind, hard)]
    targets = torch.tensor([0.0 if v is None else v for v in raw])
    mask = torch.tensor([0.0 if v is None else 1.0 for v in raw])
    return masked_bce(logits, targets.to(logits.device), mask.to(logits.device), total)


def split_train_val(traces: list[LabeledTrace], val_frac: float, seed: int) -> tuple[list, list]:
    """Held-out traces by problem (all traces of a problem on one side), so validation is fair."""
    qs = sorted({t.problem.question for t in traces})
    random.Random(seed).shuffle(qs)
    held = set(qs[: int(round(len(qs) * val_frac))])
    return [t for t in traces if t.problem.question not in held], [t for t in traces if t.problem.question in held]


@torch.no_grad()
def val_loss(rm: RewardModel, traces: list[LabeledTrace], kind: str, hard: bool, batch_size: int) -> float:
    rm.eval()
    losses = [batch_loss(rm, traces[i : i + batch_size], kind, hard).item() for i in range(0, len(traces), batch_size)]
    rm.train()
    return sum(losses) / max(len(losses), 1)


def _check(rm: RewardModel, traces: list[LabeledTrace], cfg: RMTrainConfig) -> tuple[list, list]:
    if rm.kind != cfg.kind:
        raise PonderError(f"config says kind {cfg.kind!r} but the model is a {rm.kind!r}")
    if not traces:
        raise PonderError("no training traces; label some with `ponder label`")
    for t in traces:
        if t.delimiter != rm.delimiter:
            raise PonderError(
                f"trace {t.id!r} was split at {t.delimiter!r} but the reward model's delimiter is {rm.delimiter!r}"
            )
    train, val = split_train_val(traces, cfg.val_frac, cfg.run.seed)
    if not train:
        raise PonderError(f"val_frac={cfg.val_frac} leaves no training traces")
    return train, val


def rm_step(sess, train: list[LabeledTrace], cfg: RMTrainConfig, step: int) -> dict[str, float]:
    """One optimiser step on a batch drawn with a seed derived from (run seed, step), so a
    resumed run draws the same batches."""
    d = sess.dist
    batch = random.Random(cfg.run.seed * 1_000_003 + step).sample(train, min(cfg.batch_size, len(train)))
    d.split(len(batch), "batch_size (capped at the training traces)")
    mine = batch[d.rank :: d.world]  # this rank's share of the global batch
    total = d.all_sum({"n": labelled(mine, cfg.kind, cfg.hard_labels)})["n"]
    with sess.engine.autocast():
        loss = batch_loss(sess.model, mine, cfg.kind, cfg.hard_labels, total=total)
    sess.engine.backward(loss.float())
    grad_norm = sess.engine.step(sess.model, sess.opt, sess.sched, cfg.optim.grad_clip)
    loss_all = d.all_sum({"loss": loss.item()})["loss"]  # the global batch's mean
    return {"loss": loss_all, "grad_norm": grad_norm, "lr": sess.sched.get_last_lr()[0]}


def train_reward_model(rm: RewardModel, traces: list[LabeledTrace], cfg: RMTrainConfig) -> TrainLog:
    """Fine-tune `rm` on `traces` for run.steps optimiser steps on the shared training loop
    (train/session.py: checkpoints in run.out that resume exactly, metrics.jsonl); returns the
    loss curve read back from the run's metrics, so it covers every resume of the run."""
    from ponder.config import to_dict
    from ponder.io import read_jsonl
    from ponder.train.checkpoint import load_hf_weights
    from ponder.train.common import ModelConfig
    from ponder.train.session import Session

    train, val = _check(rm, traces, cfg)
    if cfg.train.grad_checkpointing:
        from ponder.train.hardware import enable_checkpointing

        enable_checkpointing(rm.backbone)
    groups = [
        {"params": list(rm.backbone.parameters()), "lr": cfg.optim.lr},
        {"params": list(rm.head.parameters()), "lr": cfg.head_lr},
    ]
    sess = Session.open(
        ModelConfig(), cfg.optim, cfg.run, total_steps=cfg.run.steps, model=rm, tokenizer=rm.tokenizer,
        need_gen=False, param_groups=groups, unused_params=True,  # the backbone's lm_head gets no gradient
        train=dataclasses.replace(cfg.train, grad_checkpointing=False),  # set on the backbone above
    )  # fmt: skip
    sess.save_model = rm.save
    sess.load_model = lambda folder: (load_hf_weights(rm.backbone, folder), _load_head(rm, folder))
    sess.resume(to_dict(cfg))

    def validate() -> dict:
        if not val or not sess.dist.is_main:  # rank 0 validates
            return {}
        return {"val_loss": val_loss(rm, val, cfg.kind, cfg.hard_labels, cfg.batch_size)}

    t0 = time.perf_counter()
    sess.run_steps(
        lambda step: rm_step(sess, train, cfg, step), label=f"train {cfg.kind}", status_key="loss",
        every_eval=cfg.val_every, eval_fn=validate,
    )  # fmt: skip
    if val and sess.step % max(cfg.val_every, 1):
        sess.log.write(sess.step, {f"eval/{k}": v for k, v in validate().items()})
    sess.finish()
    sess.dist.barrier()  # the metrics file below is rank 0's
    rm.eval()
    rows = read_jsonl(Path(cfg.run.out) / "metrics.jsonl")
    return TrainLog(
        losses=[r["loss"] for r in rows if "loss" in r],
        val=[{"step": r["step"], "val_loss": r["eval/val_loss"]} for r in rows if "eval/val_loss" in r],
        seconds=time.perf_counter() - t0,
    )


def _load_head(rm: RewardModel, folder: Path) -> None:
    from safetensors.torch import load_file

    from ponder.rm.model import HEAD_NAME

    rm.head.load_state_dict(load_file(str(folder / HEAD_NAME)))
