"""One GRPO-family optimisation step on a batch of scored rollouts: the per-token objective
composed from the switches (objective.py: policy loss, KL, entropy bonus, distillation),
aggregated with normalisers counted over the whole batch (aggregation.py), accumulated over
micro-batches, repeated for `epochs` passes (old log-probs are taken once, before the first
pass; with one pass the ratio is exactly 1 and they are not computed).

When the rollouts came from another engine (vLLM), the sampler's logprobs travel with the batch
and each token's loss is weighted by truncated importance sampling, optionally masked
(objective.Correction); `tis_clip_frac` is the share of tokens whose ratio hit the cap and
`tis_mask_frac` the share masked out.
Forward passes run under the engine's autocast; log-probs are fp32 (losses.token_logprobs).
Under torchrun the normalisers and token statistics are summed over ranks (hardware.py); a
prompt group never spans ranks, so prompt_mean's group token counts stay local.

`accumulate` does forward + backward only (the invariance test compares its gradients for one
batch of 8 against 4 micro-batches of 2); `update` adds the optimiser step and the metrics.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from ponder.train.aggregation import BatchCounts, aggregate
from ponder.train.batch import Seq, collate, forward_logprobs
from ponder.train.hardware import PLAIN, Engine
from ponder.train.losses import kl_penalty
from ponder.train.objective import Correction, token_objective
from ponder.train.presets import GRPOSwitches


@dataclass
class MicroBatch:
    batch: object  # ponder.train.batch.Batch
    adv: torch.Tensor  # (b,), or (b, L-1) per-token advantages aligned with the mask
    mask: torch.Tensor  # (b, L-1) loss mask with dropped (e.g. overlong) sequences zeroed
    old: torch.Tensor | None = None  # (b, L-1)
    ref: torch.Tensor | None = None  # (b, L-1)
    sampler: torch.Tensor | None = None  # (b, L-1) the rollout engine's logprobs, NaN where unknown
    teacher: torch.Tensor | None = None  # (b, L-1) a distillation teacher's logprobs
    group: torch.Tensor | None = None  # (b,) index of each row's prompt group
    rows: torch.Tensor | None = None  # (b,) each row's position in the input order


def sampler_rows(seqs: list[Seq], sampler: list[list[float] | None], width: int) -> torch.Tensor:
    """Per-sequence response logprobs from the rollout engine -> (n, width) aligned with the loss
    mask (the target ids[t + 1] sits at column t), NaN where a sequence has none."""
    out = torch.full((len(seqs), width), float("nan"))
    for i, (s, lp) in enumerate(zip(seqs, sampler)):
        if lp is not None:
            out[i, s.start - 1 : s.start - 1 + len(lp)] = torch.tensor(lp, dtype=out.dtype)
    return out


def token_rows(seqs: list[Seq], adv: torch.Tensor, width: int) -> torch.Tensor:
    """Per-token advantages of the responses (n, R), response-aligned -> (n, width) aligned with the
    loss mask (the target ids[t + 1] sits at column t), zero elsewhere."""
    out = torch.zeros(len(seqs), width)
    for i, s in enumerate(seqs):
        n = min(len(s.ids) - s.start, adv.shape[1], width - s.start + 1)
        out[i, s.start - 1 : s.start - 1 + n] = adv[i, :n]
    return out


def make_micro_batches(
    seqs: list[Seq],
    adv: torch.Tensor,
    weights: torch.Tensor,
    *,
    micro_batch: int,
    pad_id: int,
    sampler: list[list[float] | None] | None = None,
    groups: torch.Tensor | None = None,
    device: str = "cpu",
) -> list[MicroBatch]:
    """seqs (N,), adv (N,) or per token (N, R) response-aligned, weights (N,) in {0, 1} ->
    micro-batches of at most micro_batch sequences, grouped by length to cut padding (the loss normalisers are batch-global, so order is free).
    sampler (N,): each response's logprobs from the rollout engine (for TIS), or None.
    groups (N,): each sequence's prompt group (default: each its own)."""
    groups = torch.arange(len(seqs)) if groups is None else groups
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i].ids))
    out = []
    for i in range(0, len(order), micro_batch):
        idx = order[i : i + micro_batch]
        b = collate([seqs[j] for j in idx], pad_id)
        w = weights[idx].unsqueeze(1)  # (b, 1)
        rows = adv[idx] if adv.dim() == 1 else token_rows([seqs[j] for j in idx], adv[idx], b.loss_mask.shape[1])
        mb = MicroBatch(b.to(device), rows.to(device), (b.loss_mask * w).to(device))
        mb.group, mb.rows = groups[idx], torch.tensor(idx)
        if sampler is not None:
            rows = sampler_rows([seqs[j] for j in idx], [sampler[j] for j in idx], b.loss_mask.shape[1])
            mb.sampler = rows.to(device)
        out.append(mb)
    return out


@torch.no_grad()
def fill_old_and_ref(
    model, ref_model, mbs: list[MicroBatch], *, need_old: bool, teacher=None, engine: Engine = PLAIN
) -> None:
    with engine.autocast():
        for mb in mbs:
            if need_old:
                mb.old = forward_logprobs(model, mb.batch)[0]
            if ref_model is not None:
                mb.ref = forward_logprobs(ref_model, mb.batch)[0]
            if teacher is not None:
                mb.teacher = forward_logprobs(teacher, mb.batch)[0]


def batch_counts(mbs: list[MicroBatch], max_tokens: int, engine: Engine = PLAIN) -> BatchCounts:
    """Normalisers over the whole (global) batch, and the token count of every row's prompt group."""
    n_groups = 1 + max(int(mb.group.max()) for mb in mbs) if mbs else 0
    totals = torch.zeros(n_groups)
    for mb in mbs:
        totals.index_add_(0, mb.group, mb.mask.sum(1).float().cpu())
    counts = engine.dist.all_sum(
        {
            "seqs": sum(int((mb.mask.sum(1) > 0).sum()) for mb in mbs),
            "tokens": float(sum(mb.mask.sum() for mb in mbs)),
            "groups": float((totals > 0).sum()),
        }
    )
    return BatchCounts(
        n_seqs=int(counts["seqs"]),
        n_tokens=int(counts["tokens"]),
        max_tokens=max_tokens,
        n_groups=int(counts["groups"]),
        group_tokens=totals,
    )


@torch.no_grad()
def sequence_kl(model, ref_model, mbs: list[MicroBatch], n: int, kind: str) -> torch.Tensor:
    """-> (n,) summed per-token KL(pi || pi_ref) of each response (rows in input order), for a
    KL in the reward (verl's use_kl_in_reward: reward - coef * sum_t kl_t)."""
    out = torch.zeros(n)
    for mb in mbs:
        kl = kl_penalty(forward_logprobs(model, mb.batch)[0], forward_logprobs(ref_model, mb.batch)[0], kind=kind)
        out[mb.rows] = (kl * mb.mask).sum(1).float().cpu()
    return out


def accumulate(
    model,
    mbs: list[MicroBatch],
    sw: GRPOSwitches,
    *,
    max_tokens: int,
    correction: Correction | None = None,
    engine: Engine = PLAIN,
) -> dict[str, float]:
    """Forward + backward over all micro-batches; returns token statistics summed over the
    global batch. With a correction, micro-batches that carry sampler logprobs weigh each
    token's loss by TIS (objective.py)."""
    counts = batch_counts(mbs, max_tokens, engine)
    tot = {"loss": 0.0, "entropy": 0.0, "clipped": 0.0, "kl": 0.0, "teacher_kl": 0.0}
    tot.update({"tis_truncated": 0.0, "tis_masked": 0.0})
    for i, mb in enumerate(mbs):
        with engine.accumulating(model, last=i == len(mbs) - 1):
            with engine.autocast():
                logp, ent = forward_logprobs(model, mb.batch, entropy=True, entropy_grad=sw.entropy_coef > 0)
            old = mb.old if mb.old is not None else logp.detach()
            per_tok, stats = token_objective(logp, old, ent, mb, sw, correction)
            group_tokens = counts.group_tokens[mb.group].to(per_tok.device)
            loss = aggregate(
                per_tok, mb.mask, mode=sw.loss_agg, counts=dataclasses.replace(counts, group_tokens=group_tokens)
            )
            engine.backward(loss)
        tot["loss"] += float(loss.detach())
        tot["entropy"] += float((ent.detach() * mb.mask).sum())
        for k, v in stats.items():
            tot[k] += float(v)
    return {**engine.dist.all_sum(tot), "tokens": float(counts.n_tokens)}


def update(
    model,
    ref_model,
    opt,
    sched,
    seqs: list[Seq],
    adv: torch.Tensor,
    weights: torch.Tensor,
    sw: GRPOSwitches,
    *,
    micro_batch: int,
    max_tokens: int,
    pad_id: int,
    grad_clip: float,
    sampler: list[list[float] | None] | None = None,
    correction: Correction | None = None,
    groups: torch.Tensor | None = None,
    teacher=None,
    engine: Engine = PLAIN,
) -> dict[str, float]:
    """`sw.epochs` optimiser steps on one batch; metrics averaged over them. sampler (N,): the
    rollout engine's response logprobs; with a correction they weigh the loss (TIS) and
    `tis_clip_frac` / `tis_mask_frac` are reported. groups (N,): prompt group of each sequence
    (prompt_mean); teacher: a model for on-policy distillation (sw.distill_coef)."""
    tis = correction is not None and sampler is not None
    mbs = make_micro_batches(
        seqs,
        adv,
        weights,
        micro_batch=micro_batch,
        pad_id=pad_id,
        sampler=sampler if tis else None,
        groups=groups,
        device=engine.dist.device,
    )
    use_ref = ref_model if sw.kl_coef > 0 and not sw.kl_in_reward else None
    use_teacher = teacher if sw.distill_coef > 0 else None
    fill_old_and_ref(model, use_ref, mbs, need_old=sw.epochs > 1, teacher=use_teacher, engine=engine)
    keys = {"clipped": "clip_frac", "kl": "kl", "entropy": "entropy", "teacher_kl": "teacher_kl"}
    keys.update({"tis_truncated": "tis_clip_frac", "tis_masked": "tis_mask_frac"} if tis else {})
    sums = {"loss": 0.0, "grad_norm": 0.0, **{v: 0.0 for v in keys.values()}}
    for _ in range(sw.epochs):
        tot = accumulate(model, mbs, sw, max_tokens=max_tokens, correction=correction if tis else None, engine=engine)
        sums["grad_norm"] += engine.step(model, opt, sched, grad_clip)
        sums["loss"] += tot["loss"]
        for k, name in keys.items():
            sums[name] += tot.get(k, 0.0) / max(tot["tokens"], 1.0)
    return {k: v / sw.epochs for k, v in sums.items()}
