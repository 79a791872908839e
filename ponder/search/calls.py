"""Helpers shared by the strategies: seeds per call, sampling whole responses in one call, and
growing partial traces by one step (or finishing them) for every frontier entry of every
problem in one call. Defaults for the tiny reasoner live here too."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from ponder.search.engine import SearchContext
from ponder.steps import STEP_DELIMITER, is_final_step
from ponder.types import Completion, Problem, SamplingParams, Step

TEMPERATURE = 0.8  # the tiny reasoner's headroom was measured at T=0.8 (shared/notes)
MAX_TOKENS = 256  # a whole response; Countdown traces of the tiny reasoner reach ~170 tokens
MAX_STEP_TOKENS = 96  # one line of a trace


def call_seed(seed: int, *parts: object) -> int:
    """A deterministic per-call seed from the run's seed and the call's position in the search."""
    return zlib.crc32(":".join(map(str, (seed, *parts))).encode()) & 0x7FFFFFFF


def sample_responses(
    problems: list[Problem],
    ctx: SearchContext,
    *,
    n: int,
    temperature: float,
    max_tokens: int,
    seed: int,
    token_stats: bool = False,
) -> list[list[Completion]]:
    """n whole responses per problem in ONE generator call (each prompt sent once with n samples);
    token_stats asks for per-token entropy and self-certainty too."""
    params = SamplingParams(n=n, temperature=temperature, max_tokens=max_tokens, seed=seed, token_stats=token_stats)
    return ctx.generate([ctx.prompt(p) for p in problems], params, owners=list(range(len(problems))))


@dataclass
class Grown:
    """One new step for a frontier node: the step text (with logprobs) and whether it ends the trace."""

    step: Step
    terminal: bool
    tokens: int


def grow(
    ctx: SearchContext,
    frontier: list[tuple[int, str]],
    problems: list[Problem],
    *,
    n: int,
    temperature: float,
    seed: int,
    max_step_tokens: int = MAX_STEP_TOKENS,
    stop: tuple[str, ...] = (STEP_DELIMITER,),
    token_stats: bool = False,
) -> list[list[Grown]]:
    """n next steps (or fixed-size chunks, with stop=()) for each (problem index, trace so far),
    all in ONE generator call."""
    prompts = [ctx.prompt(problems[i]) + prefix for i, prefix in frontier]
    params = SamplingParams(
        n=n, temperature=temperature, max_tokens=max_step_tokens, stop=stop, seed=seed, token_stats=token_stats
    )
    outputs = ctx.generate(prompts, params, owners=[i for i, _ in frontier])
    return [[_grown(c) for c in group] for group in outputs]


def _grown(c: Completion) -> Grown:
    ended = c.finish_reason == "eos" or is_final_step(c.text) or (not c.text and c.finish_reason != "length")
    return Grown(step=Step.of(c), terminal=ended or not c.text, tokens=len(c.token_ids))


def finish(
    ctx: SearchContext,
    frontier: list[tuple[int, str]],
    problems: list[Problem],
    *,
    temperature: float,
    seed: int,
    max_tokens: int,
) -> list[Completion]:
    """Complete each (problem index, trace so far) to the end of the response, in ONE call."""
    prompts = [ctx.prompt(problems[i]) + prefix for i, prefix in frontier]
    params = SamplingParams(n=1, temperature=temperature, max_tokens=max(max_tokens, 1), seed=seed)
    return [g[0] for g in ctx.generate(prompts, params, owners=[i for i, _ in frontier])]
