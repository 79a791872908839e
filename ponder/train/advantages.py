"""Advantage and reward-shaping math for RL from verifiable rewards, as pure tensor functions.

- `group_advantages`: GRPO's group-normalised advantage (Shao et al. 2024, DeepSeekMath, eq. 3 of
  the outcome-supervision variant): A_i = (r_i - mean(r)) / (std(r) + eps) over the G samples of
  one prompt; with `scale_std=False` it is Dr. GRPO's A_i = r_i - mean(r) (Liu et al. 2025,
  "Understanding R1-Zero-Like Training"). The std is the unbiased (Bessel) one, as in TRL and verl.
- `soft_overlong_penalty`: DAPO's soft overlong punishment (Yu et al. 2025, eq. 13).
- `zero_variance_groups`: which groups carry no learning signal (all rewards equal), used by
  dynamic sampling (DAPO section 3.2) and the health check.
- `ADVANTAGES`: the registered estimators, each `fn(rewards (P, G), *, scale, eps) -> (P, G)`, a
  baseline followed by `scale_advantages` (std of the centred values per group, over the batch,
  or none): `group_mean` (GRPO; Dr. GRPO with scale none), `rloo` (leave-one-out baseline,
  Ahmadian et al. 2024, "Back to Basics"), `batch_mean` (REINFORCE++ with scale batch: global
  advantage whitening, Hu 2025; REINFORCE++-baseline is `group_mean` with scale batch), `zero`
  (no outcome signal: pure on-policy distillation). A user adds one as `path/to/file.py:fn`.

Left out: PPO/GAE value baselines (no critic here), token-level returns.
"""

from __future__ import annotations

import torch

from ponder.registry import Registry

ADVANTAGES = Registry("advantage estimator")


def nanstd(x: torch.Tensor, dim: int | None = None, keepdim: bool = False) -> torch.Tensor:
    """Unbiased std over the non-NaN entries; NaN where fewer than two are left."""
    if dim is None:
        x, dim = x.flatten(), 0
    n = (~x.isnan()).sum(dim=dim, keepdim=True)
    var = ((x - x.nanmean(dim=dim, keepdim=True)) ** 2).nansum(dim=dim, keepdim=True) / (n - 1)
    var = torch.where(n > 1, var, torch.nan)
    return var.sqrt() if keepdim else var.sqrt().squeeze(dim)


def group_advantages(rewards: torch.Tensor, *, scale_std: bool = True, eps: float = 1e-6) -> torch.Tensor:
    """rewards (P, G) -> advantages (P, G); a group whose rewards all agree gets zeros.

    NaN marks a sample its reward does not apply to (None under the contract): as in TRL, it is
    left out of its group's mean and std and gets advantage 0."""
    scorable = ~rewards.isnan()  # (P, G)
    mean = rewards.nanmean(dim=1, keepdim=True)  # (P, 1)
    centred = torch.where(scorable, rewards - mean, 0.0)  # (P, G)
    if not scale_std:
        return centred
    if rewards.shape[1] < 2:
        return torch.zeros_like(rewards)
    std = nanstd(rewards, dim=1, keepdim=True).nan_to_num(0.0)  # (P, 1), unbiased
    return centred / (std + eps)


def zero_variance_groups(rewards: torch.Tensor, *, tol: float = 1e-8) -> torch.Tensor:
    """rewards (P, G) -> bool (P,): True where every scorable (non-NaN) sample got the same reward."""
    hi = rewards.nan_to_num(-torch.inf).max(dim=1).values
    lo = rewards.nan_to_num(torch.inf).min(dim=1).values
    return ~(hi - lo > tol)  # all-NaN groups: inf - inf is NaN, which counts as no signal


def soft_overlong_penalty(lengths: torch.Tensor, *, max_tokens: int, cache: int) -> torch.Tensor:
    """lengths (N,) -> penalty (N,) <= 0: zero up to max_tokens - cache, then falling linearly to
    -1 at max_tokens (and -1 beyond). DAPO eq. 13."""
    if cache <= 0:
        return torch.where(lengths >= max_tokens, -1.0, 0.0).to(torch.float32)
    start = max_tokens - cache
    over = (lengths.to(torch.float32) - start).clamp(min=0.0)  # (N,)
    return -(over / cache).clamp(max=1.0)


def scale_advantages(centred: torch.Tensor, scorable: torch.Tensor, *, scale: str, eps: float = 1e-6) -> torch.Tensor:
    """centred (P, G), scorable (P, G) bool -> centred divided by the unbiased std of the centred
    values of its group ("group"), of the whole batch ("batch"), or not at all ("none"). A
    spread of 0 (or fewer than two scorable values) divides by 1; unscorable entries stay 0."""
    if scale == "none":
        return centred
    vals = torch.where(scorable, centred, torch.nan)  # (P, G)
    if scale == "group":
        std = nanstd(vals, dim=1, keepdim=True)  # (P, 1)
    elif scale == "batch":
        std = nanstd(vals)  # ()
    else:
        raise ValueError(f"unknown advantage scale {scale!r}; known: group, batch, none")
    std = torch.where(std.nan_to_num(0.0) > 0, std, 1.0)
    return torch.where(scorable, centred / (std + eps), 0.0)


@ADVANTAGES.register("group_mean")
def group_mean_advantages(rewards: torch.Tensor, *, scale: str = "group", eps: float = 1e-6) -> torch.Tensor:
    """rewards (P, G) -> A = r - mean of its group (GRPO; Shao et al. 2024), then scaled."""
    scorable = ~rewards.isnan()
    centred = torch.where(scorable, rewards - rewards.nanmean(dim=1, keepdim=True), 0.0)
    return scale_advantages(centred, scorable, scale=scale, eps=eps)


@ADVANTAGES.register("rloo")
def rloo_advantages(rewards: torch.Tensor, *, scale: str = "none", eps: float = 1e-6) -> torch.Tensor:
    """rewards (P, G) -> A_i = r_i - mean of the other scorable samples of the group (RLOO;
    Kool et al. 2019, Ahmadian et al. 2024), then scaled; 0 where the group has < 2 scorable."""
    scorable = ~rewards.isnan()
    n = scorable.sum(dim=1, keepdim=True)  # (P, 1)
    total = rewards.nansum(dim=1, keepdim=True)  # (P, 1)
    loo = (total - rewards.nan_to_num(0.0)) / (n - 1).clamp(min=1)  # (P, G)
    centred = torch.where(scorable & (n > 1), rewards - loo, 0.0)
    return scale_advantages(centred, scorable & (n > 1), scale=scale, eps=eps)


@ADVANTAGES.register("batch_mean")
def batch_mean_advantages(rewards: torch.Tensor, *, scale: str = "batch", eps: float = 1e-6) -> torch.Tensor:
    """rewards (P, G) -> A = r - mean over the whole batch, then scaled. With scale "batch" this
    is REINFORCE++'s global advantage normalisation (Hu 2025) for outcome rewards."""
    scorable = ~rewards.isnan()
    centred = torch.where(scorable, rewards - rewards.nanmean(), 0.0)
    return scale_advantages(centred, scorable, scale=scale, eps=eps)


@ADVANTAGES.register("zero")
def zero_advantages(rewards: torch.Tensor, *, scale: str = "none", eps: float = 1e-6) -> torch.Tensor:
    """rewards (P, G) -> zeros (P, G): the outcome reward is only logged (pure distillation)."""
    return torch.zeros_like(rewards.nan_to_num(0.0))
