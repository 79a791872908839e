"""ponder rewards in TRL, TRL rewards in ponder.

ponder's reward contract is TRL's (`fn(prompts, completions, **columns) -> list[float | None]`,
verify/rewards/contract.py), so the adapters are thin:

- `to_trl(reward)`: a ponder reward (a registered name such as "accuracy", a spec such as
  "accuracy=1;gate=format", a `file.py:fn` plug-in or a callable) as a reward function for TRL's
  `GRPOTrainer(reward_funcs=[...])`. Conversational prompts and completions (lists of messages)
  reach it as text; it carries a `__name__` for TRL's logs.
- `problems_dataset(problems, prompt=...)`: a `datasets.Dataset` with TRL's `prompt` column and
  ponder's columns (`problem_id, task, question, answer, meta, info`; meta and info as JSON text,
  since arrow wants one type per column), so TRL hands every reward what ponder's verifiers need.
- `from_trl(fn)`: a TRL reward function checked against the contract before any training, so
  a wrong signature is one clear error rather than a traceback at the first step.

Needs `trl` (and `datasets`) only when a trainer or a data set is built: `pip install 'ponder[bench]'`.
Left out: TRL's reward models given as modules, async rewards, environments.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from ponder.types import Problem
from ponder.verify.rewards.contract import RewardFn, check_signature, completion_text, reward_name


def to_trl(reward: str | RewardFn, name: str | None = None) -> RewardFn:
    """A reward function for TRL's GRPOTrainer from a ponder reward name, spec, plug-in or callable."""
    from ponder.train.rewards import resolve_reward

    fn = resolve_reward(reward)
    label = name or (reward if isinstance(reward, str) else reward_name(fn))

    def trl_reward(prompts: list[Any], completions: list[Any], **columns: Any) -> list[float | None]:
        texts = [completion_text(c) for c in completions]
        asked = [completion_text(p) for p in prompts]
        return list(fn(prompts=asked, completions=texts, **columns))

    trl_reward.__name__ = trl_reward.__qualname__ = _identifier(label)
    return trl_reward


def from_trl(fn: Callable[..., list], name: str | None = None) -> RewardFn:
    """A TRL reward function for ponder's trainers (`reward_fn=` or `reward=path.py:fn`), checked now."""
    check_signature(fn, name)
    return fn


def problems_dataset(problems: Sequence[Problem], prompt: Callable[[Problem], Any] | None = None):
    """A `datasets.Dataset` for TRL: `prompt` (default the question; pass e.g. a chat-message
    builder or `lambda p: gen.render(p.question)`) plus ponder's reward columns."""
    from datasets import Dataset

    prompt = prompt or (lambda p: p.question)
    rows = [
        {
            "prompt": prompt(p),
            "problem_id": p.id,
            "task": p.task,
            "question": p.question,
            "answer": p.answer,
            "meta": json.dumps(p.meta),
            "info": json.dumps(p.info),
        }
        for p in problems
    ]
    return Dataset.from_list(rows)


def _identifier(label: str) -> str:
    """TRL logs rewards as rewards/<__name__>/mean: keep the name readable and free of separators."""
    keep = "".join(c if c.isalnum() else "_" for c in label).strip("_")
    return keep or "ponder_reward"
