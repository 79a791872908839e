"""Rewards for the RL trainers, from `verify/`: resolve a reward by name (or a
`path/to/file.py:function` plug-in), check what it returns, and measure accuracy.

A reward is any callable `fn(problems, responses) -> list[float | None]`. Training needs a number
for every sample, so None, NaN, infinities and a wrong-length list are errors that name the
reward and the problem; `preflight` calls the reward on a few reference traces and empty answers
before training starts, so a broken reward fails at step 0, not at step 500.

Left out: process (step-level) rewards, reward models (see rm/).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from ponder.registry import is_plugin
from ponder.types import PonderError, Problem

RewardFn = Callable[[list[Problem], list[str]], list]


def resolve_reward(spec: str | RewardFn) -> RewardFn:
    """A reward callable from a verify/ reward name ("accuracy", "gated_format_accuracy"), a combination
    spec ("accuracy=1,repetition=0.5;gate=format"), a plug-in path, or a callable."""
    if callable(spec):
        return spec
    from ponder.verify.rewards import get_reward, reward_from_spec

    if ("=" in spec or ";" in spec) and not is_plugin(spec):
        return reward_from_spec(spec)  # e.g. "accuracy=1;gate=format"
    return get_reward(spec)


def reward_name(spec: str | RewardFn) -> str:
    return spec if isinstance(spec, str) else getattr(spec, "__name__", "reward")


def compute_rewards(fn: RewardFn, name: str, problems: Sequence[Problem], responses: Sequence[str]) -> list[float]:
    """Call the reward and insist on one finite float per response."""
    values = fn(list(problems), list(responses))
    if not isinstance(values, (list, tuple)) or len(values) != len(responses):
        got = len(values) if isinstance(values, (list, tuple)) else type(values).__name__
        raise PonderError(
            f"reward {name!r} returned {got} values for {len(responses)} responses; return one per response"
        )
    out = []
    for p, v in zip(problems, values):
        if v is None or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise PonderError(
                f"reward {name!r} returned {v!r} for problem {p.id!r}; training needs a finite number "
                "for every response (return 0.0 for 'not applicable')"
            )
        out.append(float(v))
    return out


def preflight(fn: RewardFn, name: str, problems: Sequence[Problem]) -> None:
    """Call the reward on reference traces (where the task can write one) and on empty responses."""
    from ponder.tasks import TASKS, get_task

    probe = list(problems[:4])
    responses = []
    for p in probe:
        if p.task in TASKS:
            import random

            responses.append(get_task(p.task).trace(p, random.Random(0)))
        else:
            responses.append("")
    compute_rewards(fn, name, probe + probe, responses + [""] * len(probe))


def accuracy(problems: Sequence[Problem], responses: Sequence[str]) -> list[bool]:
    """Whether each response is correct, by verify's rule-based verifier for its task."""
    from ponder.verify import verify

    return [s.correct for s in verify(list(problems), list(responses))]
