"""Reasoning effort presets: low | medium | high name a strategy, a budget and its options, the
way an API's `reasoning_effort` does. Chosen from the measurements on the tiny reasoner in
benchmarks/search_budget_200.md: refinement from the first step the executable checker rejects
gives the best accuracy per token at every budget measured, so "medium" and "high" are that
strategy at 4 and 16 samples' worth (best-of-64 by the checker is more accurate on Countdown but
costs ~10x the tokens; see docs/search.md)."""

from __future__ import annotations

from typing import Any

from ponder.types import PonderError

EFFORT_PRESETS: dict[str, tuple[str, int, dict[str, Any]]] = {
    # measured on the tiny reasoner, each task's default level, 200 held-out problems (accuracy /
    # generated tokens per problem): arithmetic L3, Countdown L3
    "low": ("greedy", 1, {}),  # 0.26 / 54, 0.125 / 46
    "medium": ("refine", 4, {"scorer": "check"}),  # 0.385 / 136, 0.23 / 163
    "high": ("refine", 16, {"scorer": "check"}),  # 0.605 / 356, 0.525 / 407
}


def resolve_effort(effort: str) -> tuple[str, int, dict[str, Any]]:
    if effort not in EFFORT_PRESETS:
        raise PonderError(f"unknown reasoning effort {effort!r}; use one of {', '.join(EFFORT_PRESETS)}")
    strategy, budget, options = EFFORT_PRESETS[effort]
    return strategy, budget, dict(options)
