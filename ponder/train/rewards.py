"""Rewards for the RL trainers, from `verify/`: resolve a reward by name (or a
`path/to/file.py:function` plug-in), check what it returns, and measure accuracy.

A reward follows TRL's contract, `fn(prompts, completions, **columns) -> list[float | None]`
(verify/rewards/contract.py; a TRL reward function works as it is). None means "not applicable":
as in TRL's GRPOTrainer such a sample is left out of its group's baseline and gets advantage 0.
A wrong signature, NaN, infinities and a wrong-length list are errors that name the reward and
the problem; `preflight` calls the reward on a few reference traces and empty answers before
training starts, so a broken reward fails at step 0, not at step 500.

Left out: process (step-level) rewards, reward models (see rm/).
"""

from __future__ import annotations

from collections.abc import Sequence

from ponder.registry import is_plugin
from ponder.types import PonderError, Problem
from ponder.verify.rewards.contract import RewardFn, call_reward, check_signature


def resolve_reward(spec: str | RewardFn) -> RewardFn:
    """A reward callable from a verify/ reward name ("accuracy", "gated_format_accuracy"), a combination
    spec ("accuracy=1,repetition=0.5;gate=format"), a plug-in path, or a callable."""
    if callable(spec):
        check_signature(spec)
        return spec
    from ponder.verify.rewards import get_reward, reward_from_spec

    if ("=" in spec or ";" in spec) and not is_plugin(spec):
        return reward_from_spec(spec)  # e.g. "accuracy=1;gate=format"
    fn = get_reward(spec)
    check_signature(fn, spec)  # a plug-in written for the old (problems, responses) contract fails here
    return fn


def reward_name(spec: str | RewardFn) -> str:
    return spec if isinstance(spec, str) else getattr(spec, "__name__", "reward")


def compute_rewards(
    fn: RewardFn, name: str, problems: Sequence[Problem], responses: Sequence[str], prompts: Sequence[str] | None = None
) -> list[float | None]:
    """Call the reward under the contract; one finite float, or None (not applicable), per response."""
    prompts = list(prompts) if prompts is not None else [p.question for p in problems]
    return call_reward(fn, prompts, list(responses), list(problems), name=name)


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
    values = compute_rewards(fn, name, probe + probe, responses + [""] * len(probe))
    if values and all(v is None for v in values):
        raise PonderError(
            f"reward {name!r} returned None (not applicable) for every probe response of task {probe[0].task!r}; "
            "nothing would be trained"
        )


def accuracy(problems: Sequence[Problem], responses: Sequence[str]) -> list[bool]:
    """Whether each response is correct, by verify's rule-based verifier for its task."""
    from ponder.verify import verify

    return [s.correct for s in verify(list(problems), list(responses))]
