"""Token-level loss math shared by the trainers, as pure tensor functions with shapes.

- `token_logprobs`, `token_entropy`: per-token log-probabilities of the targets and the policy's
  entropy from logits.
- `clipped_policy_loss`: PPO's clipped surrogate (Schulman et al. 2017, eq. 7) with separate
  lower/upper clip ranges ("clip-higher", DAPO eq. 10), per token; the registered policy losses
  (PPO with dual clip, GSPO, CISPO) are in policy_losses.py, aggregations in aggregation.py.
- `KL_ESTIMATORS` / `kl_penalty`: k1 (log-ratio), k2 (half squared log-ratio) and k3
  ((r - 1) - log r) estimators of KL(pi || pi_ref) from samples of pi (Schulman 2020,
  "Approximating KL divergence"); GRPO uses k3 (DeepSeekMath eq. 4).
- `reverse_kl_policy_loss`: on-policy distillation's per-token reverse KL to a teacher.
- `truncated_importance_weights`: truncated importance sampling (TIS; Yao et al. 2025, "Your
  Efficient RL Framework Secretly Brings You Off-Policy RL Training") for rollouts sampled by a
  different engine (vLLM) than the trainer: per token min(pi_trainer / pi_sampler, cap);
  `mismatch_token_mask` / `mismatch_geo_mask` are its masked variants (drop tokens, or whole
  sequences by their geometric-mean ratio, outside [low, high]; as in SkyRL's off-policy
  correction and Liu et al. 2025, "When Speed Kills Stability").
- `dpo_loss`: Direct Preference Optimisation (Rafailov et al. 2023, eq. 7).

Left out: value losses, IPO/KTO variants of DPO.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ponder.registry import Registry


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """logits (B, T, V), targets (B, T) -> log p(target) (B, T)."""
    logp = torch.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    return logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def token_entropy(logits: torch.Tensor) -> torch.Tensor:
    """logits (B, T, V) -> entropy of the next-token distribution (B, T), in nats."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(-1)


def per_token(adv: torch.Tensor) -> torch.Tensor:
    """Advantages (B,) -> (B, 1), broadcasting over tokens; per-token advantages (B, T) as they are
    (process supervision, train/process.py)."""
    return adv if adv.dim() == 2 else adv.unsqueeze(1)


def clipped_policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    *,
    eps_low: float,
    eps_high: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """logp, old_logp (B, T), advantages (B,) or per token (B, T) -> (loss (B, T), clipped (B, T) bool).

    loss = -min(r A, clip(r, 1 - eps_low, 1 + eps_high) A) with r = exp(logp - old_logp).
    `clipped` marks tokens where the clipped branch was taken (the clip fraction metric)."""
    ratio = torch.exp(logp - old_logp)  # (B, T)
    adv = per_token(advantages)  # (B, 1) or (B, T)
    unclipped = ratio * adv
    clipped = ratio.clamp(1.0 - eps_low, 1.0 + eps_high) * adv
    loss = -torch.minimum(unclipped, clipped)  # (B, T)
    return loss, clipped < unclipped


KL_ESTIMATORS = Registry("KL estimator")  # fn(logp (B, T), ref_logp (B, T)) -> (B, T)


@KL_ESTIMATORS.register("k1")
def kl_k1(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """logp, ref_logp (B, T) -> log(pi / pi_ref) (B, T): unbiased, high variance, can be < 0."""
    return logp - ref_logp


@KL_ESTIMATORS.register("k2")
def kl_k2(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """logp, ref_logp (B, T) -> 0.5 * log(pi / pi_ref)^2 (B, T): biased, low variance, >= 0."""
    return 0.5 * (logp - ref_logp) ** 2


@KL_ESTIMATORS.register("k3")
def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """logp, ref_logp (B, T) -> (r - 1) - log r with r = pi_ref / pi (B, T): unbiased, >= 0."""
    log_ratio = ref_logp - logp
    return torch.exp(log_ratio) - log_ratio - 1.0


def kl_penalty(logp: torch.Tensor, ref_logp: torch.Tensor, *, kind: str) -> torch.Tensor:
    """logp, ref_logp (B, T) -> per-token estimate of KL(pi || pi_ref) (B, T) from samples of pi,
    by the registered estimator `kind` (k1, k2, k3 or a plug-in path/to/file.py:fn)."""
    return KL_ESTIMATORS.get(kind)(logp, ref_logp)


def reverse_kl_policy_loss(logp: torch.Tensor, teacher_logp: torch.Tensor) -> torch.Tensor:
    """logp, teacher_logp (B, T) -> per-token loss (B, T) on the student's own samples: its value
    is the k1 estimate log(pi / pi_teacher) and its gradient (log pi - log pi_teacher) * grad
    log pi, the score-function gradient of the reverse KL(pi || pi_teacher) (on-policy
    distillation: Agarwal et al. 2024, "GKD"; Thinking Machines 2025, "On-Policy Distillation")."""
    gap = (logp - teacher_logp).detach()  # (B, T)
    return gap * (logp - logp.detach()) + gap


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


def mismatch_token_mask(
    trainer_logp: torch.Tensor, sampler_logp: torch.Tensor, *, low: float, high: float
) -> torch.Tensor:
    """trainer_logp, sampler_logp (B, T) -> float mask (B, T): 0 for tokens whose ratio
    pi_trainer / pi_sampler lies outside [low, high] (masked importance sampling, token level),
    1 elsewhere and where the sampler's logprob is unknown (NaN)."""
    ratio = torch.exp(trainer_logp.detach() - sampler_logp)  # NaN where unknown
    outside = (ratio < low) | (ratio > high)  # NaN compares False
    return (~outside).float()


def mismatch_geo_mask(
    trainer_logp: torch.Tensor, sampler_logp: torch.Tensor, mask: torch.Tensor, *, low: float, high: float
) -> torch.Tensor:
    """trainer_logp, sampler_logp, mask (B, T) -> float mask (B, T): 0 on every token of a
    sequence whose geometric-mean ratio exp(mean_t log(pi_trainer / pi_sampler)) over its known
    response tokens lies outside [low, high] (geometric sequence mask), else 1."""
    log_ratio = trainer_logp.detach() - sampler_logp  # (B, T)
    known = (~log_ratio.isnan()) & (mask > 0)
    n = known.sum(1).clamp(min=1)  # (B,)
    geo = torch.exp(torch.where(known, log_ratio, 0.0).sum(1) / n)  # (B,), 1 with nothing known
    keep = (geo >= low) & (geo <= high)  # (B,)
    return keep.float().unsqueeze(1).expand_as(mask).contiguous()


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
