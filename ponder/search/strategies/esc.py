"""Early-stopping self-consistency (ESC; Li et al. 2024, "Escape Sky-high Cost: Early-stopping
Self-Consistency for Multi-step Reasoning"): sample in windows of `window` responses and stop
as soon as one window's answers all agree (the window's answer entropy is zero); the answer is
the majority over every response drawn. `budget` is the most responses per problem. A window
with an unparsed response does not agree. One generator call per window for all problems still
sampling. Left out: the paper's dynamic window-size search (the window is fixed).
"""

from __future__ import annotations

from ponder.search import STRATEGIES
from ponder.search.calls import MAX_TOKENS, TEMPERATURE
from ponder.search.engine import SearchContext
from ponder.search.waves import vote_in_waves
from ponder.types import Pick, Problem


def window_agrees(answers: list[str | None], window: int) -> bool:
    """True when the last `window` answers are one parsed answer (ESC's stop test)."""
    last = answers[-window:]
    return len(answers) >= window and last[0] is not None and all(a == last[0] for a in last)


@STRATEGIES.register("esc")
def esc(
    problems: list[Problem],
    ctx: SearchContext,
    *,
    budget: int,
    seed: int,
    window: int = 4,
    temperature: float = TEMPERATURE,
    max_tokens: int = MAX_TOKENS,
) -> list[Pick]:
    return vote_in_waves(
        problems,
        ctx,
        budget=budget,
        wave=window,
        should_stop=lambda answers: window_agrees(answers, window),
        temperature=temperature,
        max_tokens=max_tokens,
        seed=seed,
        name="esc",
    )
