"""Reasoning effort presets: low | medium | high name a strategy, a budget and its options, the
way an API's `reasoning_effort` does. Chosen from the measurements on the tiny reasoner in
benchmarks/search_budget.md: "medium" is the best accuracy per token measured, "high" the best
accuracy measured (budgets above 8 samples were not run; see docs/search.md)."""

from __future__ import annotations

from typing import Any

from ponder.types import PonderError

EFFORT_PRESETS: dict[str, tuple[str, int, dict[str, Any]]] = {
    # measured on the tiny reasoner, each task's default level, 100 held-out problems (accuracy /
    # generated tokens per problem): arithmetic L3, Countdown L3
    "low": ("greedy", 1, {}),  # 0.26 / 55, 0.11 / 46
    "medium": ("refine", 4, {"scorer": "check"}),  # 0.43 / 139, 0.21 / 163
    "high": ("best_of_n", 8, {"scorer": "check"}),  # 0.49 / 438, 0.29 / 431
}


def resolve_effort(effort: str) -> tuple[str, int, dict[str, Any]]:
    if effort not in EFFORT_PRESETS:
        raise PonderError(f"unknown reasoning effort {effort!r}; use one of {', '.join(EFFORT_PRESETS)}")
    strategy, budget, options = EFFORT_PRESETS[effort]
    return strategy, budget, dict(options)
