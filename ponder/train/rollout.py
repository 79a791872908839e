"""Rollouts for GRPO-style training: sample G responses per problem from a Generator, score them
with a reward, shape rewards for overlong responses, and (dynamic sampling, DAPO section 3.2)
drop groups whose rewards all agree and draw more problems until the batch is full or the refill
cap is reached. Sampling seeds derive from (run seed, step, round), so rollouts at a given step
are the same in a resumed run.

Left out: asynchronous/off-policy rollouts, partial rollouts, multi-turn environments.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from ponder.gen.groups import Groups
from ponder.train.advantages import soft_overlong_penalty, zero_variance_groups
from ponder.train.data import ProblemStream
from ponder.train.rewards import RewardFn, compute_rewards
from ponder.types import Completion, Problem, SamplingParams


@dataclass
class Rollouts:
    problems: list[Problem]  # (P,)
    prompts: list[str]  # (P,)
    completions: list[list[Completion]]  # (P, G)
    rewards: torch.Tensor  # (P, G), shaped (what the advantages see); NaN = not applicable
    raw_rewards: torch.Tensor  # (P, G), before overlong shaping
    stats: dict = field(default_factory=dict)

    @property
    def texts(self) -> list[str]:
        return [c.text for group in self.completions for c in group]


@dataclass(kw_only=True)
class RolloutSpec:
    prompts_per_step: int
    group_size: int
    temperature: float
    max_tokens: int
    stop: tuple[str, ...] = ()
    overlong: str = "none"
    overlong_cache: float = 0.2
    dynamic_sampling: bool = False
    max_refill: int = 3


def _sample_round(gen, problems: list[Problem], spec: RolloutSpec, seed: int):
    prompts = [gen.render(p.question) for p in problems]
    params = SamplingParams(
        n=spec.group_size, temperature=spec.temperature, max_tokens=spec.max_tokens, stop=spec.stop, seed=seed
    )
    return prompts, gen.generate(prompts, params)


def _score(problems, prompts, outputs, reward: RewardFn, name: str, spec: RolloutSpec):
    """(raw, shaped) rewards (P, G); NaN where the reward said None (not applicable)."""
    groups = Groups(problems, outputs)
    flat_prompts = Groups(prompts, outputs).flat_owners
    values = compute_rewards(reward, name, groups.flat_owners, groups.texts, prompts=flat_prompts)
    raw = torch.tensor([math.nan if v is None else v for v in values])
    raw = raw.view(len(problems), spec.group_size)
    shaped = raw.clone()
    if spec.overlong == "soft":
        lengths = torch.tensor([len(c.token_ids) for c in groups.flat])
        cache = int(spec.overlong_cache * spec.max_tokens)
        shaped = shaped + soft_overlong_penalty(lengths, max_tokens=spec.max_tokens, cache=cache).view_as(raw)
    return raw, shaped


def collect(
    gen, stream: ProblemStream, cursor: int, spec: RolloutSpec, reward: RewardFn, name: str, seed: int
) -> tuple[Rollouts, int]:
    """Rollouts for one step starting at data position `cursor`; returns them and the new cursor."""
    t0 = time.perf_counter()
    keep_p, keep_prompts, keep_out, keep_raw, keep_shaped = [], [], [], [], []
    n_groups = n_zero = n_gen_tokens = 0
    rounds = 0
    while len(keep_p) < spec.prompts_per_step and rounds <= (spec.max_refill if spec.dynamic_sampling else 0):
        need = spec.prompts_per_step - len(keep_p)
        problems = stream.take(cursor, need)
        cursor += need
        prompts, outputs = _sample_round(gen, problems, spec, seed=seed * 7919 + rounds)
        raw, shaped = _score(problems, prompts, outputs, reward, name, spec)
        zero = zero_variance_groups(shaped)  # (need,)
        n_groups, n_zero = n_groups + need, n_zero + int(zero.sum())
        n_gen_tokens += sum(len(c.token_ids) for g in outputs for c in g)
        for i in range(need):
            if spec.dynamic_sampling and bool(zero[i]) and rounds < spec.max_refill:
                continue
            keep_p.append(problems[i])
            keep_prompts.append(prompts[i])
            keep_out.append(outputs[i])
            keep_raw.append(raw[i])
            keep_shaped.append(shaped[i])
        rounds += 1
    stats = {
        "gen_s": time.perf_counter() - t0,
        "gen_tokens": n_gen_tokens,
        "zero_var_frac": n_zero / max(n_groups, 1),
        "sampled_groups": n_groups,  # prompt groups drawn, refills included
        "gen_rounds": rounds,
    }
    ro = Rollouts(keep_p, keep_prompts, keep_out, torch.stack(keep_shaped), torch.stack(keep_raw), stats)
    return ro, cursor
