"""One GRPO-family optimisation step on a batch of scored rollouts: per-token clipped policy
loss, optional KL to a frozen reference, aggregated with a normaliser counted over the whole
batch, accumulated over micro-batches, repeated for `epochs` passes (old log-probs are taken
once, before the first pass; with one pass the ratio is exactly 1 and they are not computed).

When the rollouts came from another engine (vLLM), the sampler's logprobs travel with the batch
and each token's loss is weighted by truncated importance sampling (losses.py), correcting the
train/inference mismatch; `tis_clip_frac` is the share of tokens whose ratio hit the cap.

`accumulate` does forward + backward only (the invariance test compares its gradients for one
batch of 8 against 4 micro-batches of 2); `update` adds the optimiser step and the metrics.
Forward passes run under the engine's autocast; log-probs are fp32 (losses.token_logprobs).
Under torchrun the normalisers and token statistics are summed over ranks (hardware.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ponder.train.batch import Seq, collate, forward_logprobs
from ponder.train.hardware import PLAIN, Engine
from ponder.train.losses import aggregate, clipped_policy_loss, kl_penalty, truncated_importance_weights
from ponder.train.presets import GRPOSwitches


@dataclass
class MicroBatch:
    batch: object  # ponder.train.batch.Batch
    adv: torch.Tensor  # (b,)
    mask: torch.Tensor  # (b, L-1) loss mask with dropped (e.g. overlong) sequences zeroed
    old: torch.Tensor | None = None  # (b, L-1)
    ref: torch.Tensor | None = None  # (b, L-1)
    sampler: torch.Tensor | None = None  # (b, L-1) the rollout engine's logprobs, NaN where unknown


def sampler_rows(seqs: list[Seq], sampler: list[list[float] | None], width: int) -> torch.Tensor:
    """Per-sequence response logprobs from the rollout engine -> (n, width) aligned with the loss
    mask (the target ids[t + 1] sits at column t), NaN where a sequence has none."""
    out = torch.full((len(seqs), width), float("nan"))
    for i, (s, lp) in enumerate(zip(seqs, sampler)):
        if lp is not None:
            out[i, s.start - 1 : s.start - 1 + len(lp)] = torch.tensor(lp, dtype=out.dtype)
    return out


def make_micro_batches(
    seqs: list[Seq],
    adv: torch.Tensor,
    weights: torch.Tensor,
    *,
    micro_batch: int,
    pad_id: int,
    sampler: list[list[float] | None] | None = None,
    device: str = "cpu",
) -> list[MicroBatch]:
    """seqs (N,), adv (N,), weights (N,) in {0, 1} -> micro-batches of at most micro_batch sequences,
    grouped by length to cut padding (the loss normalisers are batch-global, so order is free).
    sampler (N,): each response's logprobs from the rollout engine (for TIS), or None."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i].ids))
    out = []
    for i in range(0, len(order), micro_batch):
        idx = order[i : i + micro_batch]
        b = collate([seqs[j] for j in idx], pad_id)
        w = weights[idx].unsqueeze(1)  # (b, 1)
        mb = MicroBatch(b.to(device), adv[idx].to(device), (b.loss_mask * w).to(device))
        if sampler is not None:
            rows = sampler_rows([seqs[j] for j in idx], [sampler[j] for j in idx], b.loss_mask.shape[1])
            mb.sampler = rows.to(device)
        out.append(mb)
    return out


@torch.no_grad()
def fill_old_and_ref(model, ref_model, mbs: list[MicroBatch], *, need_old: bool, engine: Engine = PLAIN) -> None:
    with engine.autocast():
        for mb in mbs:
            if need_old:
                mb.old = forward_logprobs(model, mb.batch)[0]
            if ref_model is not None:
                mb.ref = forward_logprobs(ref_model, mb.batch)[0]


def accumulate(
    model,
    mbs: list[MicroBatch],
    sw: GRPOSwitches,
    *,
    max_tokens: int,
    tis_cap: float | None = None,
    engine: Engine = PLAIN,
) -> dict[str, float]:
    """Forward + backward over all micro-batches; returns token statistics summed over the
    global batch. With tis_cap, micro-batches that carry sampler logprobs weigh each token's loss
    by TIS (losses.py)."""
    counts = engine.dist.all_sum(
        {"seqs": sum(int((mb.mask.sum(1) > 0).sum()) for mb in mbs), "tokens": float(sum(mb.mask.sum() for mb in mbs))}
    )
    n_seqs, n_tokens = int(counts["seqs"]), int(counts["tokens"])
    tot = {"loss": 0.0, "clipped": 0.0, "kl": 0.0, "entropy": 0.0, "tis_truncated": 0.0}
    for i, mb in enumerate(mbs):
        with engine.accumulating(model, last=i == len(mbs) - 1):
            with engine.autocast():
                logp, ent = forward_logprobs(model, mb.batch, entropy=True)  # (b, L-1), fp32
            old = mb.old if mb.old is not None else logp.detach()
            per_tok, clipped = clipped_policy_loss(logp, old, mb.adv, eps_low=sw.eps_low, eps_high=sw.eps_high)
            if tis_cap is not None and mb.sampler is not None:
                tis, truncated = truncated_importance_weights(old, mb.sampler, cap=tis_cap)
                per_tok = per_tok * tis
                tot["tis_truncated"] += float((truncated.float() * mb.mask).sum())
            if mb.ref is not None and sw.kl_coef > 0:
                kl = kl_penalty(logp, mb.ref, kind=sw.kl_estimator)  # (b, L-1)
                per_tok = per_tok + sw.kl_coef * kl
                tot["kl"] += float((kl.detach() * mb.mask).sum())
            loss = aggregate(
                per_tok, mb.mask, mode=sw.loss_agg, n_seqs=n_seqs, n_tokens=n_tokens, max_tokens=max_tokens
            )
            engine.backward(loss)
        tot["loss"] += float(loss.detach())
        tot["clipped"] += float((clipped.float() * mb.mask).sum())
        tot["entropy"] += float((ent * mb.mask).sum())
    return {**engine.dist.all_sum(tot), "tokens": float(n_tokens)}


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
    tis_cap: float | None = None,
    engine: Engine = PLAIN,
) -> dict[str, float]:
    """`sw.epochs` optimiser steps on one batch; metrics averaged over them. sampler (N,): the
    rollout engine's response logprobs; with tis_cap they weigh the loss (TIS) and
    `tis_clip_frac` (tokens whose ratio hit the cap) is reported."""
    tis = tis_cap is not None and sampler is not None
    mbs = make_micro_batches(
        seqs,
        adv,
        weights,
        micro_batch=micro_batch,
        pad_id=pad_id,
        sampler=sampler if tis else None,
        device=engine.dist.device,
    )
    fill_old_and_ref(model, ref_model if sw.kl_coef > 0 else None, mbs, need_old=sw.epochs > 1, engine=engine)
    sums = {"loss": 0.0, "clip_frac": 0.0, "kl": 0.0, "entropy": 0.0, "grad_norm": 0.0}
    if tis:
        sums["tis_clip_frac"] = 0.0
    for _ in range(sw.epochs):
        tot = accumulate(model, mbs, sw, max_tokens=max_tokens, tis_cap=tis_cap if tis else None, engine=engine)
        sums["grad_norm"] += engine.step(model, opt, sched, grad_clip)
        ntok = max(tot["tokens"], 1.0)
        sums["loss"] += tot["loss"]
        sums["clip_frac"] += tot["clipped"] / ntok
        sums["kl"] += tot["kl"] / ntok
        sums["entropy"] += tot["entropy"] / ntok
        if tis:
            sums["tis_clip_frac"] += tot["tis_truncated"] / ntok
    return {k: v / sw.epochs for k, v in sums.items()}
