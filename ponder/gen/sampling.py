"""Next-token selection from a batch of logits: greedy, temperature, top-k, top-p (nucleus).

Pure tensor functions used by every hf decode path. The returned log-probability is always the
model's own (temperature 1, before any filtering), which is what RL and scorers need; the
filters only change which token is drawn. Random numbers are per row and step (gen/rng.py), so
a row's draws do not depend on the other rows of its batch. Top-p follows Holtzman et al. 2020,
"The Curious Case of Neural Text Degeneration": keep the smallest set of most likely tokens
whose mass reaches p.
Left out: repetition / presence penalties, min-p, typical sampling, per-row parameters.
"""

from __future__ import annotations

import math

import torch

from ponder.gen.rng import RowUniforms


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Set every logit below the k-th largest of its row to -inf. logits: (B, V); k=0 is off."""
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]  # (B, 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest prefix of the sorted distribution whose mass reaches p. logits: (B, V)."""
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (B, V)
    probs = sorted_logits.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs  # mass of strictly more likely tokens
    drop_sorted = mass_before >= p  # the first token always survives (mass_before = 0 < p)
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def inverse_cdf_sample(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """One draw per row of probs (B, V) with that row's uniform u (B,) in [0, 1): the first index
    whose cumulative mass exceeds u * total (zero-probability tokens are never chosen). Cheaper
    than multinomial, which draws V random numbers per row."""
    cdf = probs.cumsum(dim=-1)  # (B, V)
    target = (u if u.dtype == cdf.dtype else u.to(cdf.dtype))[:, None] * cdf[:, -1:]
    return torch.searchsorted(cdf, target, right=True).squeeze(-1).clamp_(max=probs.shape[-1] - 1)


def distribution_stats(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Entropy and self-certainty of each row's next-token distribution at temperature 1.

    logits: (B, V) -> (entropy (B,), self_certainty (B,)), nats. Self-certainty (Kang et al. 2025,
    "Scalable Best-of-N Selection via Self-Certainty") is KL(U || p) = -log V - mean_j log p_j:
    0 for a uniform distribution, large for a peaked one. It equals DeepConf's token confidence
    with k = V (minus log V). A token with probability 0 (a masked logit) would make the KL
    infinite; its log-probability is floored at -100 so the value stays finite.
    """
    logp = torch.log_softmax(logits.float(), dim=-1)  # (B, V)
    entropy = -(logp.exp() * logp).nan_to_num().sum(dim=-1)
    certainty = -logp.clamp(min=-100.0).mean(dim=-1) - math.log(logits.shape[-1])
    return entropy, certainty


def choose_tokens(
    logits: torch.Tensor,
    *,
    temperature: float,
    top_k: int,
    top_p: float,
    rng: RowUniforms | None,
    step: int,
    rows: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick one token per row and return (tokens (B,), model logprobs of those tokens (B,)).

    logits: (B, V), any float dtype; computed in fp32. temperature 0 is greedy (argmax); else batch
    row b draws with its uniform at `step` from `rng`: that of original row rows[b] (rows (B,)
    int64; None: row b).
    """
    logits = logits if logits.dtype == torch.float32 else logits.float()
    logp = torch.log_softmax(logits, dim=-1)  # (B, V) at temperature 1
    if temperature == 0:
        tokens = logits.argmax(dim=-1)
    else:
        scaled = logits if temperature == 1 else logits / temperature
        scaled = top_p_filter(top_k_filter(scaled, top_k), top_p)
        tokens = inverse_cdf_sample(scaled.softmax(dim=-1), rng.at(step, rows))
    return tokens, logp.gather(-1, tokens[:, None]).squeeze(-1)
