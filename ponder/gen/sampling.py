"""Next-token selection from a batch of logits: greedy, temperature, top-k, top-p (nucleus).

Pure tensor functions used by every hf decode path. The returned log-probability is always the
model's own (temperature 1, before any filtering), which is what RL and scorers need; the
filters only change which token is drawn. Top-p follows Holtzman et al. 2020, "The Curious Case
of Neural Text Degeneration": keep the smallest set of most likely tokens whose mass reaches p.
Left out: repetition / presence penalties, min-p, typical sampling, per-row parameters.
"""

from __future__ import annotations

import math

import torch


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


def inverse_cdf_sample(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One draw per row of probs (B, V) from one uniform per row: the first index whose cumulative
    mass exceeds u * total (zero-probability tokens are never chosen). Cheaper than multinomial,
    which draws V random numbers per row."""
    cdf = probs.cumsum(dim=-1)  # (B, V)
    u = torch.rand(probs.shape[0], 1, generator=generator, device=probs.device, dtype=cdf.dtype)
    return torch.searchsorted(cdf, u * cdf[:, -1:], right=True).squeeze(-1).clamp_(max=probs.shape[-1] - 1)


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
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick one token per row and return (tokens (B,), model logprobs of those tokens (B,)).

    logits: (B, V), any float dtype; computed in fp32. temperature 0 is greedy (argmax).
    """
    logits = logits if logits.dtype == torch.float32 else logits.float()
    logp = torch.log_softmax(logits, dim=-1)  # (B, V) at temperature 1
    if temperature == 0:
        tokens = logits.argmax(dim=-1)
    else:
        scaled = logits if temperature == 1 else logits / temperature
        scaled = top_p_filter(top_k_filter(scaled, top_k), top_p)
        tokens = inverse_cdf_sample(scaled.softmax(dim=-1), generator)
    return tokens, logp.gather(-1, tokens[:, None]).squeeze(-1)


class UniformStream:
    """The uniforms that one `torch.rand(n, generator=g)` per step would draw, drawn in bulk.

    A compiled sampler (gen/kernels) reads `take(n)` as a pointer into a pre-drawn buffer instead
    of calling torch.rand on every step (a cold torch call after each kernel step costs ~20 µs).
    On CPU, torch.rand(a) then torch.rand(b) equals torch.rand(a + b) from the same state, so the
    numbers are the ones per-step draws give; `close` rewinds the generator and advances it by
    exactly the count taken, so later draws from it are unchanged too. Only for a generator that
    is private to one sampling loop: the rewind would replay draws made meanwhile by others."""

    def __init__(self, generator: torch.Generator, chunk: int = 2048):
        self.generator, self.chunk = generator, chunk
        self.start = generator.get_state()
        self.buf, self.i, self.taken = torch.rand(chunk, generator=generator), 0, 0

    def take(self, n: int) -> int:
        """Address of the next n uniforms (float32, contiguous); valid until the next take."""
        if self.i + n > self.buf.numel():
            rest = self.buf[self.i :]
            self.buf = torch.cat([rest, torch.rand(max(self.chunk, n), generator=self.generator)])
            self.i = 0
        address = self.buf.data_ptr() + 4 * self.i
        self.i += n
        self.taken += n
        return address

    def close(self) -> None:
        """Leave the generator where `taken` per-step draws would have left it."""
        self.generator.set_state(self.start)
        if self.taken:
            torch.rand(self.taken, generator=self.generator)
