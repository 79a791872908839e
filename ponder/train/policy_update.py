"""One GRPO-family optimisation step on a batch of scored rollouts: per-token clipped policy
loss, optional KL to a frozen reference, aggregated with a normaliser counted over the whole
batch, accumulated over micro-batches, repeated for `epochs` passes (old log-probs are taken
once, before the first pass; with one pass the ratio is exactly 1 and they are not computed).

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
from ponder.train.losses import aggregate, clipped_policy_loss, kl_penalty
from ponder.train.presets import GRPOSwitches


@dataclass
class MicroBatch:
    batch: object  # ponder.train.batch.Batch
    adv: torch.Tensor  # (b,)
    mask: torch.Tensor  # (b, L-1) loss mask with dropped (e.g. overlong) sequences zeroed
    old: torch.Tensor | None = None  # (b, L-1)
    ref: torch.Tensor | None = None  # (b, L-1)


def make_micro_batches(
    seqs: list[Seq], adv: torch.Tensor, weights: torch.Tensor, *, micro_batch: int, pad_id: int, device: str = "cpu"
) -> list[MicroBatch]:
    """seqs (N,), adv (N,), weights (N,) in {0, 1} -> micro-batches of at most micro_batch sequences,
    grouped by length to cut padding (the loss normalisers are batch-global, so order is free)."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i].ids))
    out = []
    for i in range(0, len(order), micro_batch):
        idx = order[i : i + micro_batch]
        b = collate([seqs[j] for j in idx], pad_id).to(device)
        w = weights[idx].unsqueeze(1).to(device)  # (b, 1)
        out.append(MicroBatch(b, adv[idx].to(device), b.loss_mask * w))
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
    model, mbs: list[MicroBatch], sw: GRPOSwitches, *, max_tokens: int, engine: Engine = PLAIN
) -> dict[str, float]:
    """Forward + backward over all micro-batches; returns token statistics summed over the
    global batch."""
    counts = engine.dist.all_sum(
        {"seqs": sum(int((mb.mask.sum(1) > 0).sum()) for mb in mbs), "tokens": float(sum(mb.mask.sum() for mb in mbs))}
    )
    n_seqs, n_tokens = int(counts["seqs"]), int(counts["tokens"])
    tot = {"loss": 0.0, "clipped": 0.0, "kl": 0.0, "entropy": 0.0}
    for i, mb in enumerate(mbs):
        with engine.accumulating(model, last=i == len(mbs) - 1):
            with engine.autocast():
                logp, ent = forward_logprobs(model, mb.batch, entropy=True)  # (b, L-1), fp32
            old = mb.old if mb.old is not None else logp.detach()
            per_tok, clipped = clipped_policy_loss(logp, old, mb.adv, eps_low=sw.eps_low, eps_high=sw.eps_high)
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
    engine: Engine = PLAIN,
) -> dict[str, float]:
    """`sw.epochs` optimiser steps on one batch; metrics averaged over them."""
    mbs = make_micro_batches(seqs, adv, weights, micro_batch=micro_batch, pad_id=pad_id, device=engine.dist.device)
    fill_old_and_ref(model, ref_model if sw.kl_coef > 0 else None, mbs, need_old=sw.epochs > 1, engine=engine)
    sums = {"loss": 0.0, "clip_frac": 0.0, "kl": 0.0, "entropy": 0.0, "grad_norm": 0.0}
    for _ in range(sw.epochs):
        tot = accumulate(model, mbs, sw, max_tokens=max_tokens, engine=engine)
        sums["grad_norm"] += engine.step(model, opt, sched, grad_clip)
        ntok = max(tot["tokens"], 1.0)
        sums["loss"] += tot["loss"]
        sums["clip_frac"] += tot["clipped"] / ntok
        sums["kl"] += tot["kl"] / ntok
        sums["entropy"] += tot["entropy"] / ntok
    return {k: v / sw.epochs for k, v in sums.items()}
