"""Reasoning effort levels: none | minimal | low | medium | high | xhigh, the values of the
OpenAI API's `reasoning_effort`. Each level names a test-time strategy, a budget (samples'
worth), the strategy's options, and a thinking-token budget: the most tokens one returned trace
may spend between `<think>` and `</think>` before the answer is forced (see think_budget.py).
`ponder solve --effort` and `ponder serve`'s `reasoning_effort` read this one table.

low / medium / high were chosen from benchmarks/search_budget_200.md: refinement from the first
step the executable checker rejects gives the best accuracy per token at every budget measured.
xhigh is weighted best-of-64 by the checker, the most accurate pool strategy measured there
(Countdown 0.815) at ~10x high's tokens. none and minimal cap thinking at 0 and 32 tokens. The
thinking budgets of low and above are far above the tiny reasoner's traces (< 256 tokens); they
are ceilings for real models. Measured through the server per level: docs/serve.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ponder.types import PonderError


@dataclass(frozen=True)
class Effort:
    """What one effort level spends: strategy + budget + options, and a thinking-token cap
    (None: uncapped)."""

    strategy: str
    budget: int
    options: dict[str, Any] = field(default_factory=dict)
    think_tokens: int | None = None


EFFORT_LEVELS: dict[str, Effort] = {
    "none": Effort("greedy", 1, {}, think_tokens=0),
    "minimal": Effort("greedy", 1, {}, think_tokens=32),
    "low": Effort("greedy", 1, {}, think_tokens=512),
    "medium": Effort("refine", 4, {"scorer": "check"}, think_tokens=2048),
    "high": Effort("refine", 16, {"scorer": "check"}, think_tokens=8192),
    "xhigh": Effort("weighted", 64, {"scorer": "check"}, think_tokens=16384),
}

# The (strategy, budget, options) view of the table, for callers that predate thinking budgets.
EFFORT_PRESETS: dict[str, tuple[str, int, dict[str, Any]]] = {
    name: (e.strategy, e.budget, e.options) for name, e in EFFORT_LEVELS.items()
}


def get_effort(name: str) -> Effort:
    """The level by name (a copy whose options may be changed); unknown names list the known ones."""
    if name not in EFFORT_LEVELS:
        raise PonderError(f"unknown reasoning effort {name!r}; use one of {', '.join(EFFORT_LEVELS)}")
    e = EFFORT_LEVELS[name]
    return Effort(e.strategy, e.budget, dict(e.options), e.think_tokens)


def resolve_effort(effort: str) -> tuple[str, int, dict[str, Any]]:
    e = get_effort(effort)
    return e.strategy, e.budget, e.options


def effort_for(name: str, has_step_checker: bool) -> tuple[Effort, str]:
    """The level for problems with or without a step checker, and one line saying what it runs.
    A level that scores with the `check` scorer falls back, on a task that has no checker (GSM8K,
    MATH, code), to a sample-pool strategy at the same budget: majority voting (self-consistency),
    or for xhigh confidence-weighted voting."""
    e = get_effort(name)
    if e.options.get("scorer") == "check" and not has_step_checker:
        pool, options = ("weighted", {"scorer": "confidence"}) if e.strategy == "weighted" else ("majority", {})
        fell_back = Effort(pool, e.budget, options, e.think_tokens)
        return fell_back, f"{describe(name, fell_back)} (the task has no step checker for {e.strategy}'s check scorer)"
    return e, describe(name, e)


def describe(name: str, e: Effort) -> str:
    scorer = f" · scorer {e.options['scorer']}" if "scorer" in e.options else ""
    think = "" if e.think_tokens is None else f" · thinking <= {e.think_tokens} tokens"
    return f"effort {name}: {e.strategy} · budget {e.budget}{scorer}{think}"
