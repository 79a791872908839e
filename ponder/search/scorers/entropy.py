"""Mean token entropy as a reward-free score (the "entropy" probe of ThinkBooster and of the
reward-free Best-of-N comparisons in Kang et al. 2025): a step or response scores
exp(-mean entropy of the next-token distributions it was sampled from), in (0, 1], higher for a
more certain trace; an empty step scores 1. Per-token entropies come from the generator while
sampling (SamplingParams.token_stats, asked for automatically), so no extra model call.
Left out: entropy of the answer tokens only (the whole step or response is averaged).
"""

from __future__ import annotations

import math

from ponder.search import SCORERS
from ponder.search.scorers.self_certainty import mean, token_values
from ponder.types import Generator, Problem, Step


class MeanEntropy:
    needs_token_stats = True

    def _one(self, text: str) -> float:
        return math.exp(-mean(token_values(text, "entropies", "entropy"), 0.0))

    def score_steps(self, problems: list[Problem], steps: list[list[Step]]) -> list[list[float]]:
        return [[self._one(s) for s in trace] for trace in steps]

    def score(self, problems: list[Problem], responses: list[Step]) -> list[float]:
        return [self._one(r) for r in responses]


@SCORERS.register("entropy")
def entropy(gen: Generator | None = None) -> MeanEntropy:
    return MeanEntropy()
