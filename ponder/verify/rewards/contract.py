"""The reward contract, TRL's: `fn(prompts, completions, **columns) -> list[float | None]`.

Every reward in ponder (verify/ rewards, rm/'s PRM reward, a `file.py:fn` plug-in) is called the
way TRL's GRPOTrainer calls one: by keyword, with `prompts` (the prompt each completion answered),
`completions` (the response texts) and the data's columns, one list entry per completion. ponder's
columns are the record schema's: `problem_id, task, question, answer, meta, info` (`info` is the
private checker data, e.g. a code task's tests). A reward names the columns it uses and takes
the rest with `**kwargs` (TRL adds `completion_ids`, `trainer_state`, ...). None means "does not
apply to this completion".

`on_problems` turns a function of (problems, responses) into such a reward (ponder's verifiers
work on Problems); `call_reward` checks a reward's signature before calling it and its output
after (one number or None per completion, finite), so a wrong reward is one clear error.
Left out: async rewards and reward models given as modules (TRL takes those directly).
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from ponder.types import PonderError, Problem

RewardFn = Callable[..., list["float | None"]]
COLUMNS = ("problem_id", "task", "question", "answer", "meta", "info")
CONTRACT = "fn(prompts, completions, **columns) -> list[float | None]"


def reward_columns(problems: Sequence[Problem]) -> dict[str, list[Any]]:
    """The record-schema columns of the problems, one entry per problem (per completion)."""
    return {
        "problem_id": [p.id for p in problems],
        "task": [p.task for p in problems],
        "question": [p.question for p in problems],
        "answer": [p.answer for p in problems],
        "meta": [p.meta for p in problems],
        "info": [p.info for p in problems],
    }


def _as_dict(value: Any) -> dict[str, Any]:
    """meta / info as a dict; data sets store them as JSON strings (arrow wants one type per column)."""
    if isinstance(value, str):
        return json.loads(value) if value.strip() else {}
    return dict(value or {})


def problems_from_columns(n: int, columns: dict[str, Any], prompts: Sequence[Any] = ()) -> list[Problem]:
    """Rebuild n Problems from the columns a reward was given; a missing question is the prompt."""

    def col(key: str) -> list[Any]:
        value = columns.get(key)
        per_row = isinstance(value, list | tuple) or (hasattr(value, "__len__") and not isinstance(value, str | dict))
        return list(value) if per_row and len(value) == n else [None] * n  # a data set's column or a list

    ids, tasks, questions, answers = col("problem_id"), col("task"), col("question"), col("answer")
    metas, infos = col("meta"), col("info")
    return [
        Problem(
            id=str(ids[i]) if ids[i] is not None else str(i),
            task=tasks[i] or "",
            question=questions[i] if questions[i] is not None else completion_text(prompts[i]) if prompts else "",
            answer=None if answers[i] is None else str(answers[i]),
            meta=_as_dict(metas[i]),
            info=_as_dict(infos[i]),
        )
        for i in range(n)
    ]


def completion_text(completion: Any) -> str:
    """A completion's text: a string, or TRL's conversational form (a list of messages)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content") or "")
    raise PonderError(f"a completion must be text or a list of chat messages, got {type(completion).__name__}")


def on_problems(fn: Callable[[list[Problem], list[str]], list[float | None]]) -> RewardFn:
    """A contract reward from `fn(problems, responses)`: the columns are turned back into Problems."""

    def reward(prompts: list[Any], completions: list[Any], **columns: Any) -> list[float | None]:
        texts = [completion_text(c) for c in completions]
        return fn(problems_from_columns(len(texts), columns, prompts), texts)

    reward.__name__, reward.__qualname__, reward.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    return reward  # not functools.wraps: inspect.signature must see this signature, not fn's


def reward_name(fn: Any) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


def check_signature(fn: Any, name: str | None = None, columns: Sequence[str] = COLUMNS) -> None:
    """Raise one clear error unless `fn` can be called as fn(prompts=..., completions=..., **columns)."""
    name = name or reward_name(fn)
    if not callable(fn):
        raise PonderError(f"reward {name!r} is not callable; a reward is {CONTRACT}")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # a builtin or C callable: nothing to check before the call
    try:
        sig.bind(prompts=[], completions=[], **dict.fromkeys(columns, []))
    except TypeError as e:
        raise PonderError(
            f"reward {name!r} has the signature {name}{sig} ({e}); ponder calls rewards like TRL does: {CONTRACT}, "
            f"columns by name ({', '.join(COLUMNS)}), e.g. def {name}(prompts, completions, answer, **kwargs)"
        ) from None


def check_values(values: Any, name: str, n: int, problem_ids: Sequence[str] = ()) -> list[float | None]:
    """One number or None per completion, finite; anything else is an error naming the reward."""
    if not isinstance(values, list | tuple) or len(values) != n:
        got = len(values) if isinstance(values, list | tuple) else type(values).__name__
        raise PonderError(f"reward {name!r} returned {got} values for {n} completions; return one per completion")
    out: list[float | None] = []
    for i, v in enumerate(values):
        if v is not None and (not isinstance(v, int | float) or not math.isfinite(v)):
            where = f" for problem {problem_ids[i]!r}" if i < len(problem_ids) else f" at position {i}"
            raise PonderError(
                f"reward {name!r} returned {v!r}{where}; return a finite number, or None for 'not applicable'"
            )
        out.append(None if v is None else float(v))
    return out


def call_reward(
    fn: RewardFn,
    prompts: Sequence[Any],
    completions: Sequence[Any],
    problems: Sequence[Problem] | None = None,
    name: str | None = None,
    **extra: Any,
) -> list[float | None]:
    """Call a reward under the contract with the problems' columns (plus `extra` columns) and check
    what it returns."""
    name = name or reward_name(fn)
    columns = (reward_columns(problems) if problems is not None else {}) | extra
    check_signature(fn, name, list(columns))
    values = fn(prompts=list(prompts), completions=list(completions), **columns)
    ids = [p.id for p in problems] if problems is not None else ()
    return check_values(values, name, len(completions), ids)
