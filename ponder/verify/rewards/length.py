"""Length rewards: cosine length scaling by correctness, and DAPO's soft overlong punishment.

Length is counted in characters by default (the built-in tiny reasoner's tokens are
characters); pass `length_fn` (e.g. a tokenizer's length) to count tokens.

cosine_length (Yeo et al. 2025, "Demystifying Long Chain-of-Thought Reasoning in LLMs", eq. 1):
    r(L) = r_min + ½(r_max − r_min)(1 + cos(π·L / L_max)),  L clipped to L_max
with (r at L=0 → r at L_max) = (max_correct → min_correct) for a correct answer, so shorter
correct answers earn more, and (min_wrong → max_wrong) for a wrong one, so a wrong answer is
punished less when the model kept thinking. Defaults as in open-r1: 1.0→0.5 and −1.0→−0.5.

overlong (Yu et al. 2025, DAPO, eq. 13), with L_max the generation limit and L_cache the buffer:
    0 if L ≤ L_max − L_cache;  (L_max − L_cache − L) / L_cache if L ≤ L_max;  −1 otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ponder.types import PonderError, Problem
from ponder.verify.rewards import REWARDS
from ponder.verify.rewards.accuracy import accuracy_values
from ponder.verify.rewards.contract import on_problems


def cosine_scaled(length: int, max_len: int, r_at_zero: float, r_at_max: float) -> float:
    """Cosine interpolation from r_at_zero (L=0) to r_at_max (L ≥ max_len)."""
    progress = min(length, max_len) / max_len
    return r_at_max + 0.5 * (r_at_zero - r_at_max) * (1.0 + math.cos(math.pi * progress))


def overlong_penalty(length: int, max_len: int, cache_len: int) -> float:
    """DAPO's soft overlong punishment (0 … −1)."""
    if length <= max_len - cache_len:
        return 0.0
    if length <= max_len:
        return (max_len - cache_len - length) / cache_len
    return -1.0


@REWARDS.register("cosine_length")
def cosine_length(
    max_len: int = 1000,
    min_correct: float = 0.5,
    max_correct: float = 1.0,
    min_wrong: float = -1.0,
    max_wrong: float = -0.5,
    length_fn: Callable[[str], int] = len,
    verifier: str | None = None,
):
    if max_len <= 0:
        raise PonderError(f"cosine_length: max_len must be > 0, got {max_len}")

    @on_problems
    def cosine_length_reward(problems: list[Problem], responses: list[str]) -> list[float | None]:
        correct = accuracy_values(problems, responses, verifier=verifier)
        out: list[float | None] = []
        for c, r in zip(correct, responses):
            if c is None:
                out.append(None)
                continue
            ends = (max_correct, min_correct) if c >= 1.0 else (min_wrong, max_wrong)
            out.append(cosine_scaled(length_fn(r), max_len, *ends))
        return out

    return cosine_length_reward


@REWARDS.register("overlong")
def overlong(max_len: int = 512, cache_len: int = 128, length_fn: Callable[[str], int] = len):
    if not 0 < cache_len <= max_len:
        raise PonderError(f"overlong: need 0 < cache_len <= max_len, got cache_len={cache_len}, max_len={max_len}")

    @on_problems
    def overlong_reward(problems: list[Problem], responses: list[str]) -> list[float | None]:
        return [overlong_penalty(length_fn(r), max_len, cache_len) for r in responses]

    return overlong_reward
