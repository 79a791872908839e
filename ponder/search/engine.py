"""The search engine: runs a strategy over a batch of problems and accounts for what it spent.

`run_search` hands the strategy public copies of the problems (no reference answer, no private
data), a SearchContext through which every generator and scorer call goes, and a budget in
samples' worth. The context charges each call's tokens to the problems that own its prompts, so
one batched call for many problems still yields a Cost per problem. Wall time is measured for
the whole batch and shared equally among its problems (the batch total is kept in meta).

Scorer calls are checked: the wrong number of scores, or a non-finite score, is an error that
names the scorer. Left out: asynchronous or multi-process execution (batching across problems
inside one call is where throughput comes from here).
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from ponder.types import (
    Completion,
    Cost,
    Generator,
    PonderError,
    Problem,
    SamplingParams,
    SearchResult,
    add_flops,
    flops_estimate,
)

MAX_BUDGET = 4096
DEFAULT_SCORER = "confidence"


class Step(str):
    """A generated piece of text that remembers its token logprobs (None when the backend gave
    none); it is a plain str to every scorer that does not care."""

    logprobs: list[float] | None

    def __new__(cls, text: str, logprobs: list[float] | None = None) -> Step:
        obj = super().__new__(cls, text)
        obj.logprobs = logprobs
        return obj

    @classmethod
    def of(cls, completion: Completion) -> Step:
        return cls(completion.text, completion.logprobs)

    def __add__(self, other: str) -> Step:
        lp = None
        if self.logprobs is not None and isinstance(other, Step) and other.logprobs is not None:
            lp = self.logprobs + other.logprobs
        return Step(str(self) + str(other), lp)


@runtime_checkable
class StepScoring(Protocol):
    def score_steps(self, problems: list[Problem], steps: list[list[str]]) -> list[list[float]]: ...


@runtime_checkable
class OutcomeScoring(Protocol):
    def score(self, problems: list[Problem], responses: list[str]) -> list[float]: ...


@runtime_checkable
class Metered(Protocol):
    """A scorer that runs a model reports its size and the tokens it has read so far."""

    n_params: int | None
    tokens_scored: int


def check_budget(budget: int) -> int:
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise PonderError(f"budget must be an integer number of samples' worth, got {budget!r}")
    if not 1 <= budget <= MAX_BUDGET:
        raise PonderError(f"budget must be between 1 and {MAX_BUDGET} samples' worth, got {budget}")
    return budget


def get_scorer(name: str, gen: Generator | None = None) -> Any:
    """A scorer by registry name; judge-style scorers use `gen` as the judging model."""
    from ponder.search import SCORERS

    return SCORERS.get(name)(gen=gen)


def _scorer_name(scorer: Any) -> str:
    return scorer if isinstance(scorer, str) else type(scorer).__name__


class SearchContext:
    """Every generator and scorer call of one run_search; costs are charged per problem."""

    def __init__(self, gen: Generator, scorer: Any, n_problems: int):
        self.gen = gen
        self._scorer_spec = scorer
        self._scorer: Any = None
        self.costs = [Cost() for _ in range(n_problems)]

    @property
    def scorer(self) -> Any:
        if self._scorer is None:
            spec = DEFAULT_SCORER if self._scorer_spec is None else self._scorer_spec
            self._scorer = get_scorer(spec, self.gen) if isinstance(spec, str) else spec
        return self._scorer

    def prompt(self, problem: Problem) -> str:
        return self.gen.render(problem.question)

    def generate(self, prompts: list[str], params: SamplingParams, owners: list[int]) -> list[list[Completion]]:
        """One generator call; prompt i's tokens are charged to problem owners[i]."""
        if not prompts:
            return []
        outputs = self.gen.generate(prompts, params)
        if len(outputs) != len(prompts) or any(len(g) != params.n for g in outputs):
            raise PonderError(
                f"generator {self.gen.name!r} returned {len(outputs)} groups for {len(prompts)} prompts "
                f"(expected {params.n} completions each)"
            )
        for owner in set(owners):
            self.costs[owner].gen_calls += 1
        for owner, group in zip(owners, outputs):
            c = self.costs[owner]
            c.prompt_tokens += group[0].prompt_tokens if group else 0
            c.generated_tokens += sum(len(x.token_ids) for x in group)
        return outputs

    def _charge_scorer(self, owners: list[int], tokens_before: int) -> None:
        for owner in set(owners):
            self.costs[owner].scorer_calls += 1
        if isinstance(self.scorer, Metered) and owners:
            share = (self.scorer.tokens_scored - tokens_before) / len(owners)
            for owner in owners:
                self.costs[owner].scorer_tokens += round(share)

    def score_steps(self, problems: list[Problem], steps: list[list[str]], owners: list[int]) -> list[list[float]]:
        """One StepScorer call: a score for every step of every partial trace."""
        if not problems:
            return []
        if not isinstance(self.scorer, StepScoring):
            raise PonderError(
                f"scorer {_scorer_name(self._scorer_spec)!r} cannot score steps; use a step scorer such as 'check' or 'confidence'"
            )
        before = self.scorer.tokens_scored if isinstance(self.scorer, Metered) else 0
        out = self.scorer.score_steps(problems, steps)
        self._charge_scorer(owners, before)
        if len(out) != len(steps) or any(len(o) != len(s) for o, s in zip(out, steps)):
            raise PonderError(
                f"scorer {_scorer_name(self._scorer_spec)!r} returned scores of the wrong shape: "
                f"{[len(o) for o in out][:8]} for traces of {[len(s) for s in steps][:8]} steps"
            )
        return [[_finite(x, self._scorer_spec) for x in o] for o in out]

    def score(self, problems: list[Problem], responses: list[str], owners: list[int], agg: str = "min") -> list[float]:
        """Outcome scores; a step-only scorer scores the response's steps and aggregates them."""
        if not problems:
            return []
        if isinstance(self.scorer, OutcomeScoring):
            before = self.scorer.tokens_scored if isinstance(self.scorer, Metered) else 0
            out = self.scorer.score(problems, responses)
            self._charge_scorer(owners, before)
            if len(out) != len(responses):
                raise PonderError(
                    f"scorer {_scorer_name(self._scorer_spec)!r} returned {len(out)} scores for {len(responses)} responses"
                )
            return [_finite(x, self._scorer_spec) for x in out]
        from ponder.search.aggregate import aggregate
        from ponder.search.common import split_response

        step_scores = self.score_steps(problems, [split_response(r) for r in responses], owners)
        return [aggregate(s, agg) for s in step_scores]

    def cost(self, i: int, seconds: float, policy_params: int | None) -> Cost:
        """The problem's cost; FLOPs are None (unknown) when the policy's or a metered scorer's size is."""
        c = self.costs[i]
        scorer_params = self.scorer.n_params if self._scorer is not None and isinstance(self._scorer, Metered) else 0
        c.seconds = seconds
        policy = flops_estimate(policy_params, c.prompt_tokens + c.generated_tokens)
        c.flops = add_flops(policy, flops_estimate(scorer_params, c.scorer_tokens))
        return c


def _finite(x: Any, scorer: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise PonderError(f"scorer {_scorer_name(scorer)!r} returned a non-number score {x!r}") from None
    if not math.isfinite(v):
        raise PonderError(f"scorer {_scorer_name(scorer)!r} returned a non-finite score {v}")
    return v


def check_options(name: str, fn: Callable, options: dict[str, Any]) -> None:
    params = inspect.signature(fn).parameters
    known = [p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY and p not in ("budget", "seed")]
    unknown = [k for k in options if k not in known]
    if unknown:
        raise PonderError(f"strategy {name!r} has no option {unknown[0]!r}; its options: {', '.join(known) or 'none'}")


def run_search(
    strategy: str,
    problems: list[Problem],
    gen: Generator,
    *,
    budget: int = 1,
    scorer: str | object | None = None,
    seed: int = 0,
    **options: Any,
) -> list[SearchResult]:
    """Run `strategy` on all problems together; one SearchResult (with Cost and tree) per problem."""
    from ponder.search import STRATEGIES

    check_budget(budget)
    fn = STRATEGIES.get(strategy)
    check_options(strategy, fn, options)
    if isinstance(scorer, str):
        get_scorer(scorer, gen)  # fail on an unknown name before any generation
    if not problems:
        return []
    ctx = SearchContext(gen, scorer, len(problems))
    t0 = time.perf_counter()
    results = fn([p.public() for p in problems], ctx, budget=budget, seed=seed, **options)
    wall = time.perf_counter() - t0
    if len(results) != len(problems):
        raise PonderError(f"strategy {strategy!r} returned {len(results)} results for {len(problems)} problems")
    for i, (p, r) in enumerate(zip(problems, results)):
        r.problem_id = p.id
        r.strategy = strategy
        r.cost = ctx.cost(i, wall / len(problems), gen.n_params)
        r.meta.update(
            budget=budget,
            seed=seed,
            scorer=_scorer_name(scorer) if scorer is not None else None,
            batch_seconds=wall,
            batch_size=len(problems),
            options=dict(options),
        )
    return results
