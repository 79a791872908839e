"""Training a PRM or ORM on step-labelled traces (`ponder train prm|orm`).

PRM: binary cross-entropy at every labelled step boundary, soft targets allowed (Math-Shepherd's
soft labels are the fraction of rollouts that reached the answer), optionally blended with the
trace's outcome and class-balanced (rm/targets.py). ORM: one target per trace, the verified
outcome, read at the trace's last token (Cobbe et al. 2021 train at every token; one target per
trace is the simpler, common variant). The backbone is fine-tuned with the head, or frozen
(`freeze_backbone`: only the head learns, a linear probe on the policy's own features computed
once, rm/probe.py), from the policy's
weights or re-initialised (`init: scratch`, the same architecture with random weights).

The loop, optimiser, schedule, checkpoints (each one a loadable reward-model folder) and
metrics are the shared ones of train/ (Session), with two parameter groups: the backbone at
optim.lr, the head at head_lr. Early stopping: with a held-out split, `keep_best` saves the
model with the lowest held-out loss so far to run.out/best (its step and loss in best.json) and
loads it back at the end, so the trained model is the best one seen, not the last; `patience`
stops the run after that many evaluations without improvement. `load_reward_model(run.out)`
loads run.out/best when it exists.

`train.precision` and `train.grad_checkpointing` (of the backbone) apply as for every trainer.
Under torchrun (DDP) every rank draws the same global batch (seeded by run seed and step) and
trains on its rank-strided share `batch[rank::world]`, with the BCE normalised by the loss
weight of the whole batch, so W ranks take the single-process step; only rank 0 validates.
Left out: gradient accumulation, LoRA, FSDP (its own parameter groups), and freezing part of
the backbone (all layers or none).
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

from ponder.rm.best import BestKeeper
from ponder.rm.counterfactual import add_twins, natural_pairs, pair_loss
from ponder.rm.encode import check_view
from ponder.rm.heldout import check_agg, evaluate
from ponder.rm.labels import LabeledTrace
from ponder.rm.model import RewardModel, reinit_backbone
from ponder.rm.readout import check_readout
from ponder.rm.synthetic import SyntheticTraces
from ponder.rm.targets import class_weights, position_weights, targets_of
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
    keep_best: keep the model with the lowest held-out loss (run.out/best), not the last
    patience: stop after this many held-out evaluations without improvement (0: never)
    balance: weigh valid and erroneous steps so each class carries half the loss
    outcome_weight: blend the trace's outcome into every step target (0: step labels only)
    freeze_backbone: train the head only, as a linear probe on the backbone's features (rm/probe.py; run.steps are full-batch epochs)
    init: policy (the backbone's weights) | scratch (same architecture, random weights)
    agg: the PRM scorer's step aggregation, saved with the model: auto (the best best-of-n on the held-out problems) | last | min | product | mean
    twins: counterfactual twins per training trace (rm/counterfactual.py: a valid step with one number changed, labelled by the task's checker; 0: none)
    natural_pairs: also pair sampled traces of one problem that share a prefix and then split into a valid and a wrong step (the policy's own slips)
    pair_weight: weight of the ranking loss between each twin and its original at the perturbed step (needs twins)
    synthetic: synthetic traces added to every batch (rm/synthetic.py: the task's trace writer, a share slipped, checker labels; 0: none)
    synthetic_task: the task of the synthetic traces (empty: the first task in the data)
    synthetic_levels: their difficulty levels (empty: the task's default level)
    slip_rate: share of synthetic traces given one slip
    arch: backbone config overrides for init scratch, e.g. {num_hidden_layers: 6}: a verifier of another size
    lm_weight: weight of a next-token loss on the right traces' step tokens (the verifier learns to compute what it checks; 0: none)
    readout: where the saved PRM's step scores are read (rm/readout.py): head | result_lm (its own next-token probabilities of each result digit; needs lm_weight); training fits the head either way, the aggregation is chosen with the readout
    view: how the model reads the text (rm/encode.py): plain | reversed_digits (numbers least significant digit first; for a verifier trained from scratch)
    """

    kind: Literal["prm", "orm"] = "prm"
    data: str = ""  # step-label jsonl (see docs/rm.md); `ponder label` writes one
    backbone: str = "tiny"  # model name or folder (ponder.models), or an existing RM folder to continue
    batch_size: int = 16
    head_lr: float = 3e-3  # the head's learning rate (the backbone's is optim.lr)
    hard_labels: bool = False  # threshold soft labels at 0.5
    val_frac: float = 0.1
    val_every: int = 20  # held-out loss every k steps (and at the end)
    keep_best: bool = True  # keep the lowest held-out loss model (run.out/best), not the last
    patience: int = 0  # held-out evaluations without improvement before stopping (0: never)
    balance: bool = False  # valid and erroneous steps carry half the loss each
    outcome_weight: float = 0.0  # target = (1 - w) * step label + w * outcome
    freeze_backbone: bool = False  # train the head only
    init: Literal["policy", "scratch"] = "policy"  # scratch: the backbone's architecture, random weights
    agg: str = "auto"  # PRM step aggregation saved with the model; auto: chosen on the held-out problems
    twins: int = 0  # counterfactual twins per training trace (exact labels of a task with a step checker)
    natural_pairs: bool = False  # pair same-prefix sampled traces that split into a valid and a wrong step
    pair_weight: float = 0.0  # ranking loss between each twin and its original at the perturbed step
    synthetic: int = 0  # synthetic traces (task trace writer + slips, checker labels) added to every batch
    synthetic_task: str = ""  # empty: the first task in the data
    synthetic_levels: list[int] = field(default_factory=list)  # empty: the task's default level
    slip_rate: float = 0.5  # share of synthetic traces with one slip
    arch: dict = field(default_factory=dict)  # backbone config overrides for init scratch (another size)
    view: str = "plain"  # plain | reversed_digits: how the model reads question and steps
    lm_weight: float = 0.0  # next-token loss on right traces' steps, beside the step loss
    readout: str = "head"  # head | result_lm: where the saved PRM's step scores are read
    optim: OptimConfig = field(default_factory=_rm_optim)
    run: RunConfig = field(default_factory=_rm_run)
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class TrainLog:
    losses: list[float] = field(default_factory=list)
    val: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    best_step: int | None = None  # the step whose weights the model holds (keep_best), None: the last


def masked_bce(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, total: float | None = None
) -> torch.Tensor:
    """Weighted mean binary cross-entropy: `mask` is each position's loss weight (0 = unlabelled,
    1 = plain mean); the weighted sum is divided by the weights' sum, or by `total` (the weight
    of the global batch) when given. logits, targets, mask: (N,) -> ()."""
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")  # (N,)
    denom = mask.sum() if total is None else torch.tensor(float(total))
    return (loss * mask).sum() / torch.where(denom > 0, denom, torch.ones_like(denom))


Weights = tuple[float, float]  # (valid, error) loss weights, rm/targets.py
Twins = dict[str, list[LabeledTrace]]  # original trace id -> its counterfactual twins


def labelled(traces: list[LabeledTrace], cfg: RMTrainConfig, weights: Weights = (1.0, 1.0)) -> float:
    """The loss weight these traces carry: their labelled positions, each at its class weight."""
    return sum(sum(position_weights(targets_of(t, cfg.kind, cfg.hard_labels, cfg.outcome_weight), weights))
               for t in traces)  # fmt: skip


def batch_loss(
    rm: RewardModel, traces: list[LabeledTrace], cfg: RMTrainConfig, weights: Weights = (1.0, 1.0),
    total: float | None = None,
) -> torch.Tensor:  # fmt: skip
    """One forward pass over a batch of traces and the weighted BCE over all their labelled steps
    (normalised by `total`, the weight of the whole batch, when this batch is one rank's share)."""
    return loss_of(batch_logits(rm, traces), traces, cfg, weights, total)


def batch_logits(rm: RewardModel, traces: list[LabeledTrace], with_lm: bool = False, readout: str = "head"):
    """One forward pass: each trace's step logits, (S_b,) per trace, read at the head (what
    training fits) or by `readout` (None: the model's own); with `with_lm` also each trace's
    next-token loss on its steps, (B,)."""
    plain = getattr(rm, "module", rm)  # under DDP `rm` is the wrapper; encoding is the model's
    enc = [plain.encode(t.problem.question, t.steps, where=f"trace {t.id!r}") for t in traces]
    return rm(enc, with_lm=with_lm, readout=readout)


def loss_of(
    per_trace: list[torch.Tensor], traces: list[LabeledTrace], cfg: RMTrainConfig, weights: Weights = (1.0, 1.0),
    total: float | None = None,
) -> torch.Tensor:  # fmt: skip
    """The weighted BCE of these traces' step logits against their targets (see batch_loss)."""
    logits = torch.cat(per_trace)  # (sum S,)
    raw = [v for t in traces for v in targets_of(t, cfg.kind, cfg.hard_labels, cfg.outcome_weight)]
    targets = torch.tensor([0.0 if v is None else v for v in raw])
    w = torch.tensor(position_weights(raw, weights))
    return masked_bce(logits, targets.to(logits.device), w.to(logits.device), total)


def split_train_val(traces: list[LabeledTrace], val_frac: float, seed: int) -> tuple[list, list]:
    """Held-out traces by problem (all traces of a problem on one side), so validation is fair."""
    qs = sorted({t.problem.question for t in traces})
    random.Random(seed).shuffle(qs)
    held = set(qs[: int(round(len(qs) * val_frac))])
    return [t for t in traces if t.problem.question not in held], [t for t in traces if t.problem.question in held]


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
    check_agg(cfg.agg)
    check_view(cfg.view)
    check_readout(cfg.readout)
    train, val = split_train_val(traces, cfg.val_frac, cfg.run.seed)
    if not train:
        raise PonderError(f"val_frac={cfg.val_frac} leaves no training traces")
    return train, val


def rm_step(
    sess, train: list[LabeledTrace], cfg: RMTrainConfig, step: int, weights: Weights, twins: Twins | None = None,
    synthetic: SyntheticTraces | None = None,
) -> dict[str, float]:  # fmt: skip
    """One optimiser step on a batch drawn with a seed derived from (run seed, step), so a
    resumed run draws the same batches; each drawn trace brings its counterfactual twins along
    (a rank's twins follow its own share of the batch, so pairs never straddle ranks), and each
    rank adds its share of the step's synthetic traces."""
    d = sess.dist
    seed = cfg.run.seed * 1_000_003 + step
    batch = random.Random(seed).sample(train, min(cfg.batch_size, len(train)))
    d.split(len(batch), "batch_size (capped at the training traces)")
    mine = batch[d.rank :: d.world]  # this rank's share of the global batch
    mine = mine + [tw for t in mine for tw in (twins or {}).get(t.id, [])]
    if synthetic is not None:
        mine = mine + synthetic.draw(seed * 64 + d.rank, len(range(d.rank, cfg.synthetic, d.world)))
    total = d.all_sum({"n": labelled(mine, cfg, weights)})["n"]
    with sess.engine.autocast():
        if cfg.lm_weight:  # the step logits and each trace's next-token loss from one pass
            logits, lm = batch_logits(sess.model, mine, with_lm=True)
        else:
            logits = batch_logits(sess.model, mine)
        loss = loss_of(logits, mine, cfg, weights, total=total)
        if cfg.lm_weight:  # on right traces only
            right = torch.tensor([float(t.outcome == 1.0 and all(v == 1.0 for v in t.labels)) for t in mine])
            lm_term = (lm * right.to(lm.device)).sum() / right.sum().clamp(min=1)
            loss = loss + cfg.lm_weight * lm_term / d.world
        if cfg.pair_weight:
            loss = loss + cfg.pair_weight * pair_loss(logits, mine) / d.world
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
    from ponder.train.common import ModelConfig
    from ponder.train.session import Session

    train, val = _check(rm, traces, cfg)
    train, twins = _data_twins(train)
    val = [t for t in val if "twin_of" not in t.meta]  # held-out problems' own samples only
    for k, v in (add_twins(train, cfg.twins, cfg.run.seed) if cfg.kind == "prm" else {}).items():
        twins.setdefault(k, []).extend(v)
    if cfg.natural_pairs and cfg.kind == "prm":
        for k, v in natural_pairs(train).items():
            twins.setdefault(k, []).extend(v)
    if twins:
        log.info("%d counterfactual twins of %d training traces", sum(map(len, twins.values())), len(train))
    if cfg.kind == "prm" and cfg.agg != "auto":
        rm.agg = cfg.agg
    if cfg.view != "plain":  # a continued RM folder keeps the view it was saved with
        rm.view = cfg.view
    if cfg.readout != "head":
        rm.readout = cfg.readout
    if cfg.init == "scratch":
        reinit_backbone(rm, cfg.run.seed, cfg.arch)
    elif cfg.arch:
        raise PonderError("arch (another backbone size) needs init: scratch")
    synthetic = None
    if cfg.synthetic and cfg.kind == "prm":
        task = cfg.synthetic_task or next(t.problem.task for t in traces)
        synthetic = SyntheticTraces(task, cfg.synthetic_levels, cfg.slip_rate)
    if cfg.freeze_backbone:  # features once, then the head alone (rm/probe.py)
        from ponder.rm.probe import train_probe

        return train_probe(rm, train + [tw for ts in twins.values() for tw in ts], val, cfg)
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
    sess.load_model = lambda folder: _load_weights(rm, folder)
    sess.resume(to_dict(cfg))
    everything = train + [tw for ts in twins.values() for tw in ts]
    weights = class_weights([targets_of(t, cfg.kind, cfg.hard_labels, cfg.outcome_weight) for t in everything])
    weights = weights if cfg.balance else (1.0, 1.0)
    best = BestKeeper(cfg.run.out, cfg.patience, cfg.val_every) if val and cfg.keep_best else None

    def validate() -> dict:
        if not val or not sess.dist.is_main:  # rank 0 validates
            return {}
        metrics = evaluate(rm, val, cfg, weights)  # also sets a PRM's aggregation (cfg.agg)
        if best is not None:
            best.update(sess.step, metrics["val_loss"], rm.save)
        return metrics

    t0 = time.perf_counter()
    sess.run_steps(
        lambda step: rm_step(sess, train, cfg, step, weights, twins, synthetic), label=f"train {cfg.kind}", status_key="loss",
        every_eval=cfg.val_every, eval_fn=validate, stop_fn=lambda: best is not None and best.exhausted(sess.step),
    )  # fmt: skip
    if val and sess.step % max(cfg.val_every, 1):
        sess.log.write(sess.step, {f"eval/{k}": v for k, v in validate().items()})
    sess.finish()
    sess.dist.barrier()  # the metrics file below is rank 0's, and so is the best model
    if best is not None and best.saved:
        _load_weights(rm, best.folder)
        log.info("kept the best held-out model: step %d, val_loss %.4f", best.step, best.loss)
    rm.eval()
    rows = read_jsonl(Path(cfg.run.out) / "metrics.jsonl")
    return TrainLog(
        losses=[r["loss"] for r in rows if "loss" in r],
        val=[{"step": r["step"], "val_loss": r["eval/val_loss"]} for r in rows if "eval/val_loss" in r],
        seconds=time.perf_counter() - t0,
        best_step=best.step if best is not None and best.saved else None,
    )


def _data_twins(train: list[LabeledTrace]) -> tuple[list[LabeledTrace], Twins]:
    """Split twins stored in the data (rm/onpolicy.py: `meta.twin_of` names a training trace)
    from the traces they pair with: a drawn trace brings them along, as made-up twins."""
    ids = {t.id for t in train}
    twins: Twins = {}
    for t in train:
        if t.meta.get("twin_of") in ids:
            twins.setdefault(t.meta["twin_of"], []).append(t)
    return [t for t in train if t.meta.get("twin_of") not in ids], twins


def _load_weights(rm: RewardModel, folder: Path) -> None:
    """Backbone and head weights from a saved reward-model folder into `rm`."""
    from safetensors.torch import load_file

    from ponder.rm.model import HEAD_NAME
    from ponder.train.checkpoint import load_hf_weights

    load_hf_weights(rm.backbone, folder)
    rm.head.load_state_dict(load_file(str(folder / HEAD_NAME)))
