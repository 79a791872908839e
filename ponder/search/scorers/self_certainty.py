"""Self-certainty (Kang et al. 2025, "Scalable Best-of-N Selection for Large Language Models via
Self-Certainty"): a reward-free score of a step or response, the mean over its tokens of
KL(U || p_t), how far each next-token distribution the policy sampled from is from uniform.
Unlike the sampled token's logprob it reads the whole distribution, so a confident trace that
drew an unlikely token is not punished for the draw. The generator computes the per-token values
while sampling (SamplingParams.token_stats, asked for automatically because this scorer sets
`needs_token_stats`), so scoring costs no model call. Scores are >= 0; an empty step scores 0
(the uniform value). Left out: the paper's Borda voting is `weighted`'s `weights="borda"`.
"""

from __future__ import annotations

from ponder.search import SCORERS
from ponder.types import Generator, PonderError, Problem, Step


def token_values(text: str, name: str, scorer: str) -> list[float]:
    """The per-token stat `name` ("entropies" | "certainties") a Step carries, or a clear error."""
    values = getattr(text, name) if isinstance(text, Step) else None
    if values is None:
        raise PonderError(
            f"the {scorer!r} scorer needs per-token distribution stats; the hf backend gives them "
            "(SamplingParams.token_stats), this generator or call did not"
        )
    return values


def mean(values: list[float], empty: float) -> float:
    """Mean of (T,) -> (); `empty` when T == 0."""
    return sum(values) / len(values) if values else empty


class SelfCertainty:
    needs_token_stats = True

    def _one(self, text: str) -> float:
        return mean(token_values(text, "certainties", "self_certainty"), 0.0)

    def score_steps(self, problems: list[Problem], steps: list[list[Step]]) -> list[list[float]]:
        return [[self._one(s) for s in trace] for trace in steps]

    def score(self, problems: list[Problem], responses: list[Step]) -> list[float]:
        return [self._one(r) for r in responses]


@SCORERS.register("self_certainty")
def self_certainty(gen: Generator | None = None) -> SelfCertainty:
    return SelfCertainty()
