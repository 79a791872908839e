"""Model confidence as a score, read from the logprobs the policy produced while generating
(no extra model call): `confidence` is exp(mean token logprob) of a step or response;
`confidence_window` is exp of the lowest mean over any `window` consecutive tokens, which
catches one shaky stretch in an otherwise confident trace (as in DeepConf, Fu et al. 2025).
`perplexity` is the same number under the name the reward-free-selection papers use: 1 / PPL =
exp(mean token logprob), so lower perplexity scores higher. Scores lie in (0, 1]. Steps must come from the search (ponder.types.Step with logprobs);
a backend without logprobs is a clear error, not a silent constant."""

from __future__ import annotations

import math

from ponder.search import SCORERS
from ponder.types import Generator, PonderError, Problem, Step


def mean_confidence(logprobs: list[float]) -> float:
    """exp(mean logprob) over the tokens (T,) -> (); 1.0 for an empty step."""
    return math.exp(sum(logprobs) / len(logprobs)) if logprobs else 1.0


def lowest_window_mean(values: list[float], window: int) -> float:
    """min over sliding windows of `window` consecutive values of their mean (T,) -> ();
    the mean of the whole span if T <= window, 0.0 if T == 0. DeepConf's "lowest group
    confidence" when the values are token confidences."""
    if not values:
        return 0.0
    if len(values) <= window:
        return sum(values) / len(values)
    s = sum(values[:window])
    lowest = s
    for t in range(window, len(values)):
        s += values[t] - values[t - window]
        lowest = min(lowest, s)
    return lowest / window


def lowest_window_confidence(logprobs: list[float], window: int) -> float:
    """exp(min over sliding windows of the mean logprob) (T,) -> (); whole span if T <= window."""
    return math.exp(lowest_window_mean(logprobs, window))


def _logprobs(text: str) -> list[float]:
    if not isinstance(text, Step) or text.logprobs is None:
        raise PonderError(
            "the confidence scorer needs generator logprobs; use a backend that returns them "
            "(SamplingParams.logprobs=True) or another scorer such as 'check'"
        )
    return text.logprobs


class Confidence:
    def __init__(self, window: int | None = None):
        self.window = window

    def _one(self, text: str) -> float:
        lp = _logprobs(text)
        return mean_confidence(lp) if self.window is None else lowest_window_confidence(lp, self.window)

    def score_steps(self, problems: list[Problem], steps: list[list[str]]) -> list[list[float]]:
        return [[self._one(s) for s in trace] for trace in steps]

    def score(self, problems: list[Problem], responses: list[str]) -> list[float]:
        return [self._one(r) for r in responses]


@SCORERS.register("perplexity")
@SCORERS.register("confidence")
def confidence(gen: Generator | None = None) -> Confidence:
    return Confidence()


@SCORERS.register("confidence_window")
def confidence_window(gen: Generator | None = None, window: int = 8) -> Confidence:
    return Confidence(window=window)
