"""Rule-based verifiers and rewards: math answers (math-verify behind a hard-timeout process
pool), a code sandbox (HumanEval / MBPP tests), the built-in tasks' checkers, Game of 24, and
training rewards (see verify/rewards/).

A verifier is `(problems, responses) -> list[Score]`: total (never raises on model output) and
time-bounded. `verify` picks one per `problem.task` and batches each verifier's share of the
input into one call. A plug-in verifier is named "path/to/file.py:function" and is such a
function itself. Names: docs/verify.md.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from ponder.registry import Registry
from ponder.types import PonderError, Problem, Score, Verifier

VERIFIERS = Registry(
    "verifier",
    modules=["ponder.verify.math", "ponder.verify.code_verifier", "ponder.verify.task_checkers"],
)

# Tasks whose verifier is not named after the task.
TASK_VERIFIER = {"gsm8k": "math", "math": "math", "game24": "game24", "humaneval": "code", "mbpp": "code"}

_INSTANCES: dict[str, Verifier] = {}
_REMEMBERED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("ponder_verdicts", default=None)


@contextlib.contextmanager
def remembered_verdicts() -> Iterator[None]:
    """Inside this block `verify` scores each (problem, response) once: a reward and an accuracy
    metric over the same responses (one GRPO step) share the verdicts instead of verifying twice."""
    token = _REMEMBERED.set({})
    try:
        yield
    finally:
        _REMEMBERED.reset(token)


def get_verifier(name: str, **kwargs: Any) -> Verifier:
    """The verifier registered as `name`, built with `kwargs` (e.g. workers=, limits=, timeout=).
    Built without kwargs it is cached, so its worker pool is shared by every caller."""
    if kwargs:
        return VERIFIERS.build(name, **kwargs)
    if name not in _INSTANCES:
        _INSTANCES[name] = VERIFIERS.build(name)
    return _INSTANCES[name]


def verifier_name_for(task: str) -> str:
    name = TASK_VERIFIER.get(task, task)
    if name not in VERIFIERS:
        raise PonderError(
            f"no verifier for task {task!r}; known tasks: {', '.join(sorted(set(TASK_VERIFIER) | set(VERIFIERS.names())))}"
        )
    return name


def _memo_key(name: str, p: Problem, response: str) -> tuple:
    """By content, not identity: a reward under the TRL contract rebuilds its Problems from columns."""
    return (name, p.id, p.task, p.question, p.answer, response)


def check_one_score_each(name: str, scores: list, n: int) -> None:
    """A verifier must return exactly one score per response: one more or one fewer (a second
    score appended on a parse failure) would shift every later reward onto the wrong response."""
    if len(scores) != n or not all(isinstance(s, Score) for s in scores):
        raise PonderError(f"verifier {name!r} returned {len(scores)} scores for {n} responses; expected one Score each")


def verify(problems: list[Problem], responses: list[str]) -> list[Score]:
    """Score each response with its problem's verifier; one batched call per verifier."""
    if len(problems) != len(responses):
        raise PonderError(f"verify: {len(problems)} problems but {len(responses)} responses")
    responses = [r if isinstance(r, str) else "" for r in responses]  # model output may be anything
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(problems):
        groups[verifier_name_for(p.task)].append(i)
    memo = _REMEMBERED.get()
    out: list[Score | None] = [None] * len(problems)
    for name, idx in groups.items():
        if memo is not None:
            for i in idx:
                out[i] = memo.get(_memo_key(name, problems[i], responses[i]))
            idx = [i for i in idx if out[i] is None]
        scores = get_verifier(name)([problems[i] for i in idx], [responses[i] for i in idx]) if idx else []
        check_one_score_each(name, scores, len(idx))
        for i, s in zip(idx, scores):
            out[i] = s
            if memo is not None:
                memo[_memo_key(name, problems[i], responses[i])] = s
    return out  # type: ignore[return-value]


__all__ = [
    "VERIFIERS",
    "TASK_VERIFIER",
    "check_one_score_each",
    "get_verifier",
    "remembered_verdicts",
    "verify",
    "verifier_name_for",
]
