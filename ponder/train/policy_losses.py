"""Registered policy losses: how a token's log-probability under the current policy, its
log-probability when sampled ("old"), and its response's advantage become a per-token loss.

Every entry is `fn(logp, old, adv, mask, *, eps_low, eps_high, dual_clip) -> (loss, clipped)`
with logp, old, mask (B, T), adv (B,) (or (B, T) per token: process supervision), loss (B, T) and clipped (B, T) bool (the tokens where a
clip bound was active, for the clip-fraction metric). A user adds one as `path/to/file.py:fn`.

- `ppo`: PPO's clipped surrogate with separate eps_low / eps_high ("clip-higher", DAPO eq. 10)
  and, when dual_clip > 1, dual-clip PPO (Ye et al. 2020, "Mastering Complex Control in MOBA
  Games", eq. 5): for A < 0 the loss is capped at -dual_clip * A.
- `gspo`: Group Sequence Policy Optimisation (Zheng et al. 2025, eq. 5-7): one importance ratio
  per sequence, s = exp(mean_t (logp - old)) over its response tokens, clipped like PPO; the
  per-token form (GSPO-token, eq. 13) so it composes with the aggregations; the paper's clip
  range is small (3e-4 / 4e-4).
- `cispo`: Clipped IS-weight Policy Optimisation (MiniMax 2025, "MiniMax-M1", eq. 4): the
  importance weight is clipped and detached, -sg(clip(r, 1 - eps_low, 1 + eps_high)) * A *
  logp, so every token keeps a gradient.

Left out: value-function losses (no critic), SAPO / GMPO-style soft gates.
"""

from __future__ import annotations

import torch

from ponder.registry import Registry
from ponder.train.losses import clipped_policy_loss, per_token

POLICY_LOSSES = Registry("policy loss")


@POLICY_LOSSES.register("ppo")
def ppo_loss(
    logp: torch.Tensor,
    old: torch.Tensor,
    adv: torch.Tensor,
    mask: torch.Tensor,
    *,
    eps_low: float,
    eps_high: float,
    dual_clip: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """logp, old, mask (B, T), adv (B,) -> (loss (B, T), clipped (B, T) bool)."""
    loss, clipped = clipped_policy_loss(logp, old, adv, eps_low=eps_low, eps_high=eps_high)
    if dual_clip > 1.0:
        cap = -dual_clip * per_token(adv)  # (B, 1) or (B, T), positive where A < 0
        capped = (per_token(adv) < 0) & (loss > cap)  # (B, T)
        loss = torch.where(capped, cap.expand_as(loss), loss)
        clipped = clipped | capped
    return loss, clipped


@POLICY_LOSSES.register("gspo")
def gspo_loss(
    logp: torch.Tensor,
    old: torch.Tensor,
    adv: torch.Tensor,
    mask: torch.Tensor,
    *,
    eps_low: float,
    eps_high: float,
    dual_clip: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """logp, old, mask (B, T), adv (B,) -> (loss (B, T), clipped (B, T) bool). Each token's loss
    has the value of its sequence's clipped loss and the gradient s * A * grad logp_t / |o|
    under a per-sequence mean aggregation, the GSPO gradient."""
    n = mask.sum(1).clamp(min=1)  # (B,)
    log_s = ((logp - old) * mask).sum(1) / n  # (B,) mean log-ratio over the response
    seq_ratio = torch.exp(log_s).detach().unsqueeze(1)  # (B, 1)
    ratio = seq_ratio * torch.exp(logp - logp.detach())  # (B, T): value s, gradient s * grad logp_t
    a = per_token(adv)  # (B, 1) or (B, T)
    unclipped = ratio * a
    clipped_branch = ratio.clamp(1.0 - eps_low, 1.0 + eps_high) * a
    loss = -torch.minimum(unclipped, clipped_branch)
    return loss, (clipped_branch < unclipped).expand_as(loss)


@POLICY_LOSSES.register("cispo")
def cispo_loss(
    logp: torch.Tensor,
    old: torch.Tensor,
    adv: torch.Tensor,
    mask: torch.Tensor,
    *,
    eps_low: float,
    eps_high: float,
    dual_clip: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """logp, old, mask (B, T), adv (B,) -> (loss (B, T), clipped (B, T) bool): loss =
    -sg(clip(r, 1 - eps_low, 1 + eps_high)) * A * logp with r = exp(logp - old)."""
    ratio = torch.exp(logp - old).detach()  # (B, T)
    weight = ratio.clamp(1.0 - eps_low, 1.0 + eps_high)
    loss = -weight * per_token(adv) * logp
    return loss, weight != ratio
