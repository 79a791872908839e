"""Token-level loss math shared by the trainers, as pure tensor functions with shapes.

- `token_logprobs`, `token_entropy`: per-token log-probabilities of the targets and the policy's
  entropy from logits.
- `clipped_policy_loss`: PPO's clipped surrogate (Schulman et al. 2017, eq. 7) with separate
  lower/upper clip ranges ("clip-higher", DAPO eq. 10), per token.
- `kl_penalty`: the k1 (log-ratio) and k3 ((r - 1) - log r, Schulman 2020 "Approximating KL
  divergence") estimators of KL(pi || pi_ref), per token; GRPO uses k3 (DeepSeekMath eq. 4).
- `aggregate`: how per-token losses become one number. "seq_mean" is GRPO's 1/G sum_i 1/|o_i|
  sum_t; "token_mean" is DAPO's token-level sum_i sum_t / sum_i |o_i|; "constant" is Dr. GRPO's
  sum / (n_seqs * max_tokens). Each divides by a normaliser counted over the whole optimiser
  batch, so summing the results of micro-batches equals the full-batch value (gradient
  accumulation is exact).
- `dpo_loss`: Direct Preference Optimisation (Rafailov et al. 2023, eq. 7).
- `truncated_importance_weights`: truncated importance sampling (TIS; Yao et al. 2025, "Your
  Efficient RL Framework Secretly Brings You Off-Policy RL Training") for rollouts sampled by a
  different engine (vLLM) than the trainer: per token min(pi_trainer / pi_sampler, cap).

Left out: value losses, entropy bonuses, dual-clip PPO, IPO/KTO variants of DPO.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

Aggregation = Literal["seq_mean", "token_mean", "constant"]


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """logits (B, T, V), targets (B, T) -> log p(target) (B, T)."""
    logp = torch.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    return logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def token_entropy(logits: torch.Tensor) -> torch.Tensor:
    """logits (B, T, V) -> entropy of the next-token distribution (B, T), in nats."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(-1)


def clipped_policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    *,
    eps_low: float,
    eps_high: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """logp, old_logp (B, T), advantages (B,) -> (loss (B, T), clipped (B, T) bool).

    loss = -min(r A, clip(r, 1 - eps_low, 1 + eps_high) A) with r = exp(logp - old_logp).
    `clipped` marks tokens where the clipped branch was taken (the clip fraction metric)."""
    ratio = torch.exp(logp - old_logp)  # (B, T)
    adv = advantages.unsqueeze(1)  # (B, 1)
    unclipped = ratio * adv
    clipped = ratio.clamp(1.0 - eps_low, 1.0 + eps_high) * adv
    loss = -torch.minimum(unclipped, clipped)  # (B, T)
    return loss, clipped < unclipped


def kl_penalty(logp: torch.Tensor, ref_logp: torch.Tensor, *, kind: Literal["k1", "k3"]) -> torch.Tensor:
    """logp, ref_logp (B, T) -> per-token estimate of KL(pi || pi_ref) (B, T) from samples of pi."""
    log_ratio = ref_logp - logp  # (B, T), log(pi_ref / pi)
    if kind == "k1":
        return -log_ratio
    if kind == "k3":
        return torch.exp(log_ratio) - log_ratio - 1.0
    raise ValueError(f"unknown KL estimator {kind!r}; known: k1, k3")


def aggregate(
    per_token: torch.Tensor,
    mask: torch.Tensor,
    *,
    mode: Aggregation,
    n_seqs: int,
    n_tokens: int,
    max_tokens: int,
) -> torch.Tensor:
    """per_token, mask (B, T) -> scalar. n_seqs / n_tokens count the whole optimiser batch
    (all micro-batches), so micro-batch results add up to the full-batch loss."""
    masked = per_token * mask  # (B, T)
    if mode == "seq_mean":
        lengths = mask.sum(1).clamp(min=1)  # (B,)
        return (masked.sum(1) / lengths).sum() / max(n_seqs, 1)
    if mode == "token_mean":
        return masked.sum() / max(n_tokens, 1)
    if mode == "constant":
        return masked.sum() / max(n_seqs * max_tokens, 1)
    raise ValueError(f"unknown loss aggregation {mode!r}; known: seq_mean, token_mean, constant")


def truncated_importance_weights(
    trainer_logp: torch.Tensor, sampler_logp: torch.Tensor, *, cap: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """trainer_logp, sampler_logp (B, T) -> (weights (B, T), truncated (B, T) bool).

    weights = min(exp(trainer_logp - sampler_logp), cap), without gradient: the correction for
    tokens drawn from the sampler's distribution while the loss is the trainer's. `truncated`
    marks tokens whose ratio exceeded `cap`. Where sampler_logp is NaN (no sampler logprob for
    that token) the weight is 1 and nothing is truncated."""
    known = ~torch.isnan(sampler_logp)
    trainer = trainer_logp.detach()
    ratio = torch.exp(trainer - torch.where(known, sampler_logp, trainer))  # (B, T)
    truncated = known & (ratio > cap)
    return ratio.clamp(max=cap), truncated


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    *,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequence log-probs (B,) each -> (loss (B,), implicit reward margin (B,)).
    loss = -log sigmoid(beta * ((pc - rc) - (pr - rr)))."""
    margin = beta * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected))  # (B,)
    return -F.logsigmoid(margin), margin.detach()
