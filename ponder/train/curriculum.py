"""Curriculum by measured pass rate: sample K responses per training problem from the starting
model, then either order problems easy -> hard (highest pass rate first; ties keep a seeded
shuffle) or weight them by learnability p(1 - p), which is largest where a group of samples is
most likely to disagree — the problems GRPO can learn from (cf. DAPO's dynamic sampling and
"learnability" sampling in Foster & Foerster 2025).

Left out: re-measuring pass rates during training (the order is fixed at the start).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Literal

from ponder.train.distill import sample_verified
from ponder.types import Problem

Curriculum = Literal["none", "easy_to_hard", "weighted"]


def pass_rates(
    gen, problems: Sequence[Problem], accuracy_fn: Callable, *, k: int, temperature: float, max_tokens: int, seed: int
) -> list[float]:
    """Measured pass rate of each problem, in the order given."""
    _, rates = sample_verified(
        gen, problems, accuracy_fn, k=k, temperature=temperature, max_tokens=max_tokens, seed=seed
    )
    return [rates[p.id] for p in problems]


def easy_to_hard(rates: Sequence[float], *, seed: int) -> list[int]:
    """Indices sorted by pass rate, highest first; equal rates in seeded random order."""
    idx = list(range(len(rates)))
    random.Random(seed).shuffle(idx)
    return sorted(idx, key=lambda i: -rates[i])


def learnability_weights(rates: Sequence[float], *, floor: float = 0.02) -> list[float]:
    """p (1 - p) per problem, at least `floor` so that no problem is never drawn."""
    return [max(p * (1 - p), floor) for p in rates]
