"""Reasoning effort presets: low | medium | high name a strategy, a budget and its options, the
way an API's `reasoning_effort` does. Chosen from the measurements on the tiny reasoner in
benchmarks/search_budget.md (accuracy and tokens per problem are listed in docs/search.md)."""

from __future__ import annotations

from typing import Any

from ponder.types import PonderError

EFFORT_PRESETS: dict[str, tuple[str, int, dict[str, Any]]] = {
    "low": ("greedy", 1, {}),
    "medium": ("best_of_n", 4, {"scorer": "check"}),
    "high": ("beam", 16, {"scorer": "check", "width": 4}),
}


def resolve_effort(effort: str) -> tuple[str, int, dict[str, Any]]:
    if effort not in EFFORT_PRESETS:
        raise PonderError(f"unknown reasoning effort {effort!r}; use one of {', '.join(EFFORT_PRESETS)}")
    strategy, budget, options = EFFORT_PRESETS[effort]
    return strategy, budget, dict(options)
