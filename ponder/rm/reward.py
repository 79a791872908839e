"""A learned PRM in training: a filter for rejection sampling and rewards for GRPO.

- `keep_mask`: the data recipe's filter — drop traces whose mean (or min, ...) step score is
  below a threshold, on top of (or instead of) the outcome check.
- `PRMReward`: a reward under TRL's contract `fn(prompts, completions, **columns)` (see
  verify/rewards/contract.py) = outcome reward + `weight` x aggregated PRM score.
- `process_advantages`: DeepSeekMath's process supervision (Shao et al. 2024, sec. 4.1.3): step
  rewards are normalised over the whole group (mean and std of all steps of all G samples), and a
  token's advantage is the sum of the normalised rewards of the steps that end at or after it.
  A pure function over one group; `step_token_ends` maps steps to token positions.

Left out: wiring `process_advantages` into ponder.train.grpo (its loop takes one reward per
sample); a trainer that wants dense rewards calls it on the group's step scores.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ponder.search.aggregate import aggregate
from ponder.steps import split_steps
from ponder.types import PonderError, Problem
from ponder.verify.rewards.contract import RewardFn, call_reward, completion_text, problems_from_columns


def keep_mask(
    scorer, problems: list[Problem], responses: list[str], *, threshold: float = 0.5, agg: str = "mean"
) -> list[bool]:
    """Rejection-sampling filter: True where the aggregated step score is >= threshold."""
    steps = [split_steps(r, scorer.model.delimiter) or [r] for r in responses]
    scores = scorer.score_steps(problems, steps)
    return [aggregate(s, agg) >= threshold for s in scores]


class PRMReward:
    """outcome + weight * aggregate(PRM step scores): a reward under TRL's contract
    (`fn(prompts, completions, **columns)`, contract.py); the outcome reward is one too, and where
    it says None (not applicable) the sum is None."""

    def __init__(self, scorer, outcome: RewardFn | None = None, *, weight: float = 1.0, agg: str = "mean"):
        self.scorer, self.outcome, self.weight, self.agg = scorer, outcome, weight, agg
        self.__name__ = f"prm_{agg}"

    def __call__(self, prompts: list[Any], completions: list[Any], **columns: Any) -> list[float | None]:
        responses = [completion_text(c) for c in completions]
        problems = problems_from_columns(len(responses), columns, prompts)
        steps = [split_steps(r, self.scorer.model.delimiter) or [r] for r in responses]
        dense = [aggregate(s, self.agg) for s in self.scorer.score_steps(problems, steps)]
        if self.outcome is None:
            return [self.weight * d for d in dense]
        base = call_reward(self.outcome, prompts, completions, **columns)
        return [None if b is None else b + self.weight * d for b, d in zip(base, dense)]


def step_token_ends(steps: list[str], char_to_token: Callable[[int], int]) -> list[int]:
    """Token index of each step's last character in the response; `char_to_token` maps a
    character offset of the response to its token (for a char-level tokenizer, the identity)."""
    ends, pos = [], 0
    for s in steps:
        pos += len(s)
        ends.append(char_to_token(pos - 1))
    return ends


def process_advantages(
    step_rewards: list[list[float]], step_ends: list[list[int]], lengths: list[int], eps: float = 1e-6
) -> torch.Tensor:
    """Per-token advantages of one group (G samples) from step rewards; (G, T_max), zero-padded.

    r~ = (r - mean(all r)) / (std(all r) + eps) over every step of every sample (DeepSeekMath eq. in
    4.1.3); A[g, t] = sum of r~[g, j] over steps j with end_j >= t.
    """
    if len(step_rewards) != len(step_ends) or len(step_ends) != len(lengths):
        raise PonderError("process_advantages needs one step-reward list, step-end list and length per sample")
    for g, (r, e) in enumerate(zip(step_rewards, step_ends)):
        if len(r) != len(e):
            raise PonderError(f"sample {g} has {len(r)} step rewards but {len(e)} step ends")
    flat = torch.tensor([x for r in step_rewards for x in r], dtype=torch.float32)  # (N,)
    std = flat.std() if flat.numel() > 1 else torch.tensor(0.0)
    norm = (flat - flat.mean()) / (std + eps)  # (N,)
    adv = torch.zeros(len(lengths), max(lengths, default=0))  # (G, T)
    i = 0
    for g, ends in enumerate(step_ends):
        for end in ends:
            adv[g, : min(end, lengths[g] - 1) + 1] += norm[i]
            i += 1
    return adv
