"""The per-token objective of one GRPO-family micro-batch, composed from the registered
switches: the policy loss (policy_losses.py), the train/inference mismatch correction on
rollouts from another engine (truncated importance weights, optionally a token or geometric
sequence mask; losses.py), the KL to a frozen reference when it sits in the loss, the entropy
bonus, and on-policy distillation's reverse KL to a teacher. Aggregation happens afterwards
(aggregation.py), so every term here is per token.

Left out: value-function terms (no critic).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ponder.train.losses import (
    kl_penalty,
    mismatch_geo_mask,
    mismatch_token_mask,
    reverse_kl_policy_loss,
    truncated_importance_weights,
)
from ponder.train.policy_losses import POLICY_LOSSES


@dataclass(frozen=True)
class Correction:
    """Train/inference mismatch correction for rollouts sampled by another engine."""

    cap: float  # TIS truncation: min(pi_trainer / pi_sampler, cap)
    mask: str = "none"  # none | token | geo
    low: float = 0.5
    high: float = 2.0


def token_objective(
    logp: torch.Tensor,
    old: torch.Tensor,
    ent: torch.Tensor | None,
    mb,
    sw,
    correction: Correction | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """logp, old, ent (b, T) and a MicroBatch (adv (b,), mask (b, T), ref / sampler / teacher
    (b, T) or None) -> (per-token loss (b, T), token statistics summed over the mask)."""
    loss_fn = POLICY_LOSSES.get(sw.policy_loss)
    per_tok, clipped = loss_fn(
        logp, old, mb.adv, mb.mask, eps_low=sw.eps_low, eps_high=sw.eps_high, dual_clip=sw.dual_clip
    )
    stats = {"clipped": (clipped.float() * mb.mask).sum()}
    if correction is not None and mb.sampler is not None:
        weights, truncated = truncated_importance_weights(old, mb.sampler, cap=correction.cap)
        if correction.mask == "token":
            weights = weights * mismatch_token_mask(old, mb.sampler, low=correction.low, high=correction.high)
        elif correction.mask == "geo":
            weights = weights * mismatch_geo_mask(old, mb.sampler, mb.mask, low=correction.low, high=correction.high)
        per_tok = per_tok * weights
        stats["tis_truncated"] = (truncated.float() * mb.mask).sum()
        stats["tis_masked"] = ((weights == 0).float() * mb.mask).sum()
    if mb.ref is not None and sw.kl_coef > 0 and not sw.kl_in_reward:
        kl = kl_penalty(logp, mb.ref, kind=sw.kl_estimator)  # (b, T)
        per_tok = per_tok + sw.kl_coef * kl
        stats["kl"] = (kl.detach() * mb.mask).sum()
    if sw.entropy_coef > 0 and ent is not None:
        per_tok = per_tok - sw.entropy_coef * ent
    if sw.distill_coef > 0 and mb.teacher is not None:
        rkl = reverse_kl_policy_loss(logp, mb.teacher)  # (b, T)
        per_tok = per_tok + sw.distill_coef * rkl
        stats["teacher_kl"] = (rkl.detach() * mb.mask).sum()
    return per_tok, stats
