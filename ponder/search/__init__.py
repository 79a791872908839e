"""Test-time search: strategies that spend a budget of samples on each problem, scorers that
judge steps or whole responses without the reference answer, and the engine that combines them.

    from ponder.search import run_search
    results = run_search("beam", problems, gen, budget=16, scorer="check")

Strategies live one per file in `ponder.search.strategies`, scorers in `ponder.search.scorers`;
both registries import their modules on first lookup, so `import ponder.search` stays light.
A plug-in registers with `@STRATEGIES.register("name")` / `@SCORERS.register("name")` from any
module imported before use, or is named as "path/to/file.py:name" (a strategy function, or a
scorer factory `fn(gen=None, **options)`). The learned PRM / ORM of
`ponder.rm.scorers` is added to SCORERS automatically when that module exists.
"""

from __future__ import annotations

import importlib.util

from ponder.registry import Registry

_STRATEGY_MODULES = [
    f"ponder.search.strategies.{m}"
    for m in (
        "greedy",
        "majority",
        "best_of_n",
        "weighted",
        "beam",
        "dvts",
        "mcts",
        "refine",
        "budget_forcing",
        "deepconf",
        "esc",
        "adaptive_consistency",
        "particle_filter",
        "parallel_aggregate",
        "revise_bon",
        "route",
    )
]
_SCORER_MODULES = [f"ponder.search.scorers.{m}" for m in ("confidence", "judge", "check", "self_certainty", "entropy")]


def _optional(module: str) -> list[str]:
    """[module] when it can be imported (another area's plug-in), else []."""
    try:
        return [module] if importlib.util.find_spec(module) is not None else []
    except ModuleNotFoundError:
        return []


STRATEGIES = Registry("search strategy", modules=_STRATEGY_MODULES)
SCORERS = Registry("scorer", modules=_SCORER_MODULES + _optional("ponder.rm.scorers"), plugins="factory")

from ponder.search.effort import EFFORT_PRESETS  # noqa: E402
from ponder.search.engine import get_scorer, run_search  # noqa: E402

__all__ = ["STRATEGIES", "SCORERS", "EFFORT_PRESETS", "run_search", "get_scorer"]
