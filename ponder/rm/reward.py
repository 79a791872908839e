"""A learned PRM / ORM in training: a filter for rejection sampling and rewards for GRPO, the
same trained folder that search scores with (rm/scorers.py) and `ponder data` filters with.

- `keep_mask`: the data recipe's filter — drop traces whose mean (or min, ...) step score is
  below a threshold, on top of (or instead of) the outcome check.
- `PRMReward`: a reward under TRL's contract `fn(prompts, completions, **columns)` (see
  verify/rewards/contract.py) = outcome reward + `weight` x aggregated PRM score; its
  `step_scores` gives GRPO's process advantages (train/process.py) each response's steps and scores.
- `ORMReward`: outcome reward + `weight` x the ORM's P(correct).
- Registered in verify's REWARDS as `prm` and `orm`, built from a folder:
  `get_reward("prm", path="runs/prm", outcome="accuracy", weight=0.5)`, or in GRPO
  `--reward=prm --reward-options.path=runs/prm`.
- `process_advantages`, `step_token_ends`: DeepSeekMath's process supervision, pure functions
  (they live in train/process.py, where GRPO uses them; re-exported here).

Left out: rewards from a judge model (rm/critic.py scores search only).
"""

from __future__ import annotations

import logging
from typing import Any

from ponder.search.aggregate import aggregate
from ponder.steps import split_steps
from ponder.train.process import process_advantages, step_token_ends
from ponder.types import PonderError, Problem
from ponder.verify.rewards import REWARDS, get_reward
from ponder.verify.rewards.contract import RewardFn, call_reward, completion_text, problems_from_columns

log = logging.getLogger(__name__)
__all__ = ["ORMReward", "PRMReward", "keep_mask", "process_advantages", "step_token_ends"]


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

    def step_scores(
        self, prompts: list[Any], completions: list[Any], **columns: Any
    ) -> list[tuple[list[str], list[float]]]:
        """Each completion's steps (at the PRM's delimiter; joined, they are the completion) and
        the PRM's score of each; no scores for a response the PRM cannot read (too long for it)."""
        responses = [completion_text(c) for c in completions]
        problems = problems_from_columns(len(responses), columns, prompts)
        steps = [split_steps(r, self.scorer.model.delimiter) or [r] for r in responses]
        return list(zip(steps, _each(self.scorer.score_steps, problems, steps)))

    def __call__(self, prompts: list[Any], completions: list[Any], **columns: Any) -> list[float | None]:
        dense = [aggregate(s, self.agg) if s else None for _, s in self.step_scores(prompts, completions, **columns)]
        return _plus_outcome(self.outcome, self.weight, dense, prompts, completions, columns)


class ORMReward:
    """outcome + weight * the ORM's P(correct) of each response: a reward under TRL's contract."""

    def __init__(self, scorer, outcome: RewardFn | None = None, *, weight: float = 1.0):
        self.scorer, self.outcome, self.weight = scorer, outcome, weight
        self.__name__ = "orm"

    def __call__(self, prompts: list[Any], completions: list[Any], **columns: Any) -> list[float | None]:
        responses = [completion_text(c) for c in completions]
        problems = problems_from_columns(len(responses), columns, prompts)
        dense = [s[0] if s else None for s in _each(lambda ps, rs: [[x] for x in self.scorer.score(ps, rs)],
                                                    problems, responses)]  # fmt: skip
        return _plus_outcome(self.outcome, self.weight, dense, prompts, completions, columns)


def _each(score, problems: list[Problem], items: list) -> list[list[float]]:
    """score(problems, items) in one batch; when the model refuses one (a response longer than
    its context), item by item, with no scores for the refused ones — a reward never raises on
    model output."""
    try:
        return score(problems, items)
    except PonderError:
        out = []
        for p, item in zip(problems, items):
            try:
                out += score([p], [item])
            except PonderError as e:
                log.debug("reward model cannot score a response: %s", e)
                out.append([])
        return out


def _plus_outcome(outcome, weight: float, dense: list, prompts, completions, columns) -> list[float | None]:
    """weight * dense, plus the outcome reward where there is one; None where either is None."""
    base = call_reward(outcome, prompts, completions, **columns) if outcome else [0.0] * len(dense)
    return [None if b is None or d is None else b + weight * d for b, d in zip(base, dense)]


@REWARDS.register("prm")
def prm(path: str | None = None, agg: str = "min", weight: float = 1.0, outcome: str | None = None) -> PRMReward:
    """A trained PRM folder as a reward: weight x aggregate(step scores) (+ the `outcome` reward)."""
    from ponder.rm.scorers import PRMScorer, rm_folder

    scorer = PRMScorer.load(rm_folder(path, "prm"), agg=agg)
    return PRMReward(scorer, get_reward(outcome) if outcome else None, weight=weight, agg=agg)


@REWARDS.register("orm")
def orm(path: str | None = None, weight: float = 1.0, outcome: str | None = None) -> ORMReward:
    """A trained ORM folder as a reward: weight x P(correct) (+ the `outcome` reward)."""
    from ponder.rm.scorers import ORMScorer, rm_folder

    return ORMReward(ORMScorer.load(rm_folder(path, "orm")), get_reward(outcome) if outcome else None, weight=weight)
