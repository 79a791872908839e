"""Reward functions for RL from verifiable rewards, each usable alone or combined.

A reward follows TRL's contract, `fn(prompts, completions, **columns) -> list[float | None]`
(None = does not apply to that completion; the columns are the record schema's, contract.py).
The registry holds *factories*: `get_reward(name, **kwargs)` builds one (a plug-in
"path/to/file.py:fn" is the reward function itself). `reward_from_spec` builds a
weighted, gated combination from a dict or a one-line string (see combine.py).

Names (docs/verify.md has the formulas and defaults):
  accuracy              1/0 from the task's verifier (verify.verify)
  format                1 if the response is exactly <think>…</think> <answer>…</answer>, tags once each
  tag_count             0.25 per R1 tag present exactly once
  language              share of the reasoning's words in the target script (R1's consistency reward)
  cosine_length         length scaled by correctness on a cosine (Yeo et al. 2025)
  overlong              DAPO's soft overlong punishment (0 … -1)
  repetition            -(share of repeated word n-grams) (Yeo et al. 2025)
  gated_format_accuracy accuracy that counts only when format passes (the safe default)
  accuracy_plus_format  accuracy + 0.1·format, TinyZero-style (additive: can pay well-formatted wrong answers)
  prm                   a trained PRM folder (path=): weight · aggregated step scores (+ an outcome reward)
  orm                   a trained ORM folder (path=): weight · P(correct) (+ an outcome reward)
"""

from __future__ import annotations

from typing import Any

from ponder.registry import Registry
from ponder.verify.rewards.contract import RewardFn, call_reward

REWARDS = Registry(
    "reward",
    modules=[
        "ponder.verify.rewards.accuracy",
        "ponder.verify.rewards.format",
        "ponder.verify.rewards.language",
        "ponder.verify.rewards.length",
        "ponder.verify.rewards.repetition",
        "ponder.verify.rewards.combine",
        "ponder.rm.reward",  # prm, orm: learned verifiers from a trained folder (loads torch)
    ],
)


def get_reward(name: str, **kwargs: Any) -> RewardFn:
    """The reward registered as `name`, built with `kwargs`; or a plug-in reward function."""
    return REWARDS.build(name, **kwargs)


def reward_from_spec(spec: str | dict) -> RewardFn:
    """A combined reward from a spec, e.g. "accuracy=1,repetition=0.5;gate=format" (combine.py)."""
    from ponder.verify.rewards.combine import combined_from_spec

    return combined_from_spec(spec)


__all__ = ["REWARDS", "RewardFn", "call_reward", "get_reward", "reward_from_spec"]
