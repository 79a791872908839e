"""The accuracy reward: 1.0 when the task's verifier says correct, else 0.0 (unparsed answers
included). None for a problem whose task has no verifier, so that a mixed batch still trains."""

from __future__ import annotations

from ponder.types import PonderError, Problem
from ponder.verify import get_verifier, verifier_name_for, verify
from ponder.verify.rewards import REWARDS
from ponder.verify.rewards.contract import on_problems


def accuracy_values(problems: list[Problem], responses: list[str], verifier: str | None = None) -> list[float | None]:
    """1/0 per response; `verifier` forces one verifier for all, else each task's own."""
    if verifier is not None:
        return [s.value for s in get_verifier(verifier)(problems, responses)]
    idx = []
    for i, p in enumerate(problems):
        try:
            verifier_name_for(p.task)
            idx.append(i)
        except PonderError:
            continue
    out: list[float | None] = [None] * len(problems)
    for i, s in zip(idx, verify([problems[i] for i in idx], [responses[i] for i in idx])):
        out[i] = s.value
    return out


@REWARDS.register("accuracy")
def accuracy(verifier: str | None = None):
    @on_problems
    def accuracy_reward(problems: list[Problem], responses: list[str]) -> list[float | None]:
        return accuracy_values(problems, responses, verifier=verifier)

    return accuracy_reward
