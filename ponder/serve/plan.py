"""What a chat request spends: its `reasoning_effort` level (search/effort.py) with the request's
`ponder` object and `max_tokens` on top, checked before any generation.

- `ponder.strategy` replaces the level's strategy (and drops the level's options, which belong
  to its strategy); `ponder.budget`, `ponder.scorer`, `ponder.think_tokens` and
  `ponder.options` override one field each.
- `max_tokens` bounds the returned trace: the thinking budget becomes at most `max_tokens`
  minus the answer's reserve (a quarter of max_tokens, at most 32 tokens) and the tokens of the
  tags around thinking and answer (`tag_tokens`), and a strategy
  with a `max_tokens` option gets it, so reasoning can never eat the whole allowance.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from ponder.search.effort import get_effort
from ponder.search.think_budget import ANSWER_TOKENS
from ponder.serve.errors import APIError
from ponder.serve.schema import ChatRequest
from ponder.types import PonderError


@dataclass
class Plan:
    effort: str
    strategy: str
    budget: int
    scorer: str | None
    options: dict[str, Any] = field(default_factory=dict)
    think_tokens: int | None = None
    answer_tokens: int = ANSWER_TOKENS


def answer_reserve(max_tokens: int) -> int:
    return max(1, min(ANSWER_TOKENS, max_tokens // 4))


def make_plan(req: ChatRequest, default_effort: str, tag_tokens: int = 0) -> Plan:
    """The strategy, budget, scorer, options and thinking budget of a chat request (400 if bad)."""
    from ponder.search import SCORERS, STRATEGIES
    from ponder.search.engine import check_budget, check_options

    name = req.effort or default_effort
    e, over = get_effort(name), req.ponder
    options = dict(e.options) if "strategy" not in over else {}
    scorer = over.get("scorer", options.pop("scorer", None))
    options.update(over.get("options", {}))
    plan = Plan(
        effort=name,
        strategy=over.get("strategy", e.strategy),
        budget=over.get("budget", e.budget),
        scorer=scorer,
        options=options,
        think_tokens=over.get("think_tokens", e.think_tokens),
    )
    try:
        fn = STRATEGIES.get(plan.strategy)
        check_budget(plan.budget)
        check_options(plan.strategy, fn, plan.options)
        if scorer is not None:
            SCORERS.get(scorer)
    except PonderError as err:
        raise APIError(400, str(err), param="ponder", code="invalid_value") from None
    _apply_max_tokens(plan, fn, req.sampling.max_tokens, tag_tokens)
    return plan


def _apply_max_tokens(plan: Plan, fn, max_tokens: int | None, tag_tokens: int) -> None:
    if max_tokens is None:
        return
    plan.answer_tokens = answer_reserve(max_tokens)
    room = max(0, max_tokens - plan.answer_tokens - tag_tokens)
    plan.think_tokens = room if plan.think_tokens is None else min(plan.think_tokens, room)
    if "max_tokens" in inspect.signature(fn).parameters and "max_tokens" not in plan.options:
        plan.options["max_tokens"] = max_tokens
