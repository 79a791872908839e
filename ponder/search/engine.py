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

import dataclasses
import hashlib
import inspect
import math
import time
from collections.abc import Callable
from typing import Any

from ponder.answers import answer_of, answering
from ponder.search.tree import mark_chosen, path_text
from ponder.steps import split_response
from ponder.types import (
    Completion,
    Cost,
    Generator,
    Metered,
    NeedsTokenStats,
    OutcomeScorer,
    Pick,
    PonderError,
    Problem,
    SamplingParams,
    SearchResult,
    Step,
    StepScorer,
    add_flops,
    flops_estimate,
)

MAX_BUDGET = 4096
DEFAULT_SCORER = "confidence"


def check_budget(budget: int) -> int:
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise PonderError(f"budget must be an integer number of samples' worth, got {budget!r}")
    if not 1 <= budget <= MAX_BUDGET:
        raise PonderError(f"budget must be between 1 and {MAX_BUDGET} samples' worth, got {budget}")
    return budget


def get_scorer(name: str, gen: Generator | None = None, **options: Any) -> Any:
    """A scorer built by registry name with its options (e.g. path= for a PRM); judge-style
    scorers use `gen` as the judging model."""
    from ponder.search import SCORERS

    return SCORERS.build(name, gen=gen, **options)


def _scorer_name(scorer: Any) -> str:
    return scorer if isinstance(scorer, str) else type(scorer).__name__


class SearchContext:
    """Every generator and scorer call of one run_search; costs are charged per problem.
    `scorer` is a built scorer (StepScorer and/or OutcomeScorer); `label` names it in errors.

    Seeds per problem: a sampled call with one int seed goes out with one seed per prompt, derived
    from that seed, the owning problem (its id and question, given `problems`) and the prompt's
    place among that problem's prompts in the call. A problem's rows then sample the same tokens
    whether it is searched with others or alone, in any order or chunking (the hf backend draws
    per row, gen/rng.py). Without `problems` the problem's index stands in for it."""

    def __init__(
        self,
        gen: Generator,
        scorer: Any,
        n_problems: int,
        label: str | None = None,
        problems: list[Problem] | None = None,
    ):
        self.gen = gen
        self.scorer = scorer
        self._scorer_spec = label or _scorer_name(scorer)
        self.costs = [Cost() for _ in range(n_problems)]
        self.token_stats = isinstance(scorer, NeedsTokenStats) and scorer.needs_token_stats
        self._prompts: dict[int, tuple[Problem, str]] = {}  # id(problem) -> (problem, rendered prompt)
        self._keys = [f"{p.id}\x1f{p.question}" for p in problems] if problems else [str(i) for i in range(n_problems)]

    def prompt(self, problem: Problem) -> str:
        """The problem's rendered prompt, rendered once per run (a chat template costs ~0.5 ms)."""
        seen = self._prompts.get(id(problem))
        if seen is None or seen[0] is not problem:
            seen = self._prompts[id(problem)] = (problem, self.gen.render(problem.question))
        return seen[1]

    def generate(self, prompts: list[str], params: SamplingParams, owners: list[int]) -> list[list[Completion]]:
        """One generator call; prompt i's tokens are charged to problem owners[i]. Per-token
        distribution stats are asked for when the scorer reads them."""
        if not prompts:
            return []
        if self.token_stats and not params.token_stats:
            params = dataclasses.replace(params, token_stats=True)
        outputs = self.gen.generate(prompts, self._per_problem(params, owners))
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

    def _per_problem(self, params: SamplingParams, owners: list[int]) -> SamplingParams:
        """A sampled call's one int seed as one seed per prompt, by owning problem (class docstring)."""
        if params.temperature == 0 or not isinstance(params.seed, int):
            return params
        seen: dict[int, int] = {}
        seeds = []
        for o in owners:
            k = seen[o] = seen.get(o, -1) + 1
            seeds.append(problem_seed(params.seed, self._keys[o], k))
        return dataclasses.replace(params, seed=tuple(seeds))

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
        if not isinstance(self.scorer, StepScorer):
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

    def score(self, problems: list[Problem], responses: list[Step], owners: list[int], agg: str = "min") -> list[float]:
        """Outcome scores; a step-only scorer scores the response's steps and aggregates them."""
        if not problems:
            return []
        if isinstance(self.scorer, OutcomeScorer):
            before = self.scorer.tokens_scored if isinstance(self.scorer, Metered) else 0
            out = self.scorer.score(problems, responses)
            self._charge_scorer(owners, before)
            if len(out) != len(responses):
                raise PonderError(
                    f"scorer {_scorer_name(self._scorer_spec)!r} returned {len(out)} scores for {len(responses)} responses"
                )
            return [_finite(x, self._scorer_spec) for x in out]
        from ponder.search.aggregate import aggregate

        step_scores = self.score_steps(problems, [split_response(r) for r in responses], owners)
        return [aggregate(s, agg) for s in step_scores]

    def subset(self, indices: list[int]) -> SubsetContext:
        """A view for a strategy run on problems[indices] only: its problem j is charged to
        problem indices[j] here (used to route problems to other strategies)."""
        return SubsetContext(self, indices)

    def cost(self, i: int, seconds: float, policy_params: int | None) -> Cost:
        """The problem's cost; FLOPs are None (unknown) when the policy's or a metered scorer's size is."""
        c = self.costs[i]
        scorer_params = self.scorer.n_params if isinstance(self.scorer, Metered) else 0
        c.seconds = seconds
        policy = flops_estimate(policy_params, c.prompt_tokens + c.generated_tokens)
        c.flops = add_flops(policy, flops_estimate(scorer_params, c.scorer_tokens))
        return c


class SubsetContext:
    """A SearchContext seen by a strategy that runs on some of the problems (see `subset`)."""

    def __init__(self, parent: SearchContext, indices: list[int]):
        self.parent, self.indices = parent, list(indices)
        self.gen, self.scorer = parent.gen, parent.scorer

    def _owners(self, owners: list[int]) -> list[int]:
        return [self.indices[o] for o in owners]

    def prompt(self, problem: Problem) -> str:
        return self.parent.prompt(problem)

    def generate(self, prompts: list[str], params: SamplingParams, owners: list[int]) -> list[list[Completion]]:
        return self.parent.generate(prompts, params, self._owners(owners))

    def score_steps(self, problems: list[Problem], steps: list[list[str]], owners: list[int]) -> list[list[float]]:
        return self.parent.score_steps(problems, steps, self._owners(owners))

    def score(self, problems: list[Problem], responses: list[Step], owners: list[int], agg: str = "min") -> list[float]:
        return self.parent.score(problems, responses, self._owners(owners), agg=agg)


def problem_seed(seed: int, problem: str, k: int) -> int:
    """The seed (63 bits) of the k-th prompt of `problem` (its id and question) in a call seeded `seed`."""
    digest = hashlib.blake2b(f"{seed}\x1f{k}\x1f{problem}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


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


def build_scorer(
    scorer: str | object | None, gen: Generator, options: dict[str, Any] | None = None
) -> tuple[Any, str | None]:
    """The scorer object (built once: a PRM loads from disk once) and its name for the results."""
    options = dict(options or {})
    if scorer is not None and not isinstance(scorer, str):
        if options:
            raise PonderError(f"scorer options {sorted(options)} apply to a scorer named by string, not to an object")
        return scorer, _scorer_name(scorer)
    return get_scorer(scorer or DEFAULT_SCORER, gen, **options), scorer


def to_result(pick: Pick) -> SearchResult:
    """A strategy's Pick as a SearchResult: the chosen path marked, its text and its answer."""
    if pick.chosen is None:
        return SearchResult(problem_id="", answer=None, response="", tree=pick.tree, meta=dict(pick.meta))
    mark_chosen(pick.tree, pick.chosen)
    text = path_text(pick.tree, pick.chosen)
    return SearchResult(problem_id="", answer=answer_of(text), response=text, tree=pick.tree, meta=dict(pick.meta))


def run_search(
    strategy: str,
    problems: list[Problem],
    gen: Generator,
    *,
    budget: int = 1,
    scorer: str | object | None = None,
    scorer_options: dict[str, Any] | None = None,
    seed: int = 0,
    top_p: float | None = None,
    **options: Any,
) -> list[SearchResult]:
    """Run `strategy` on all problems together; one SearchResult (with Cost and tree) per problem.
    `scorer` is a registered name (default "confidence"), a plug-in, or a scorer object;
    `scorer_options` go to a named scorer's factory (e.g. {"path": "runs/prm"}); `top_p` makes
    every sampled generator call of the strategy nucleus-sample (gen/nucleus.py)."""
    from ponder.gen.nucleus import with_top_p
    from ponder.search import STRATEGIES

    check_budget(budget)
    fn = STRATEGIES.get(strategy)
    check_options(strategy, fn, options)
    scorer_obj, scorer_label = build_scorer(scorer, gen, scorer_options)  # fails before any generation
    if not problems:
        return []
    ctx = SearchContext(
        with_top_p(gen, top_p), scorer_obj, len(problems), label=scorer_label or DEFAULT_SCORER, problems=problems
    )
    t0 = time.perf_counter()
    style = getattr(getattr(gen, "format", None), "answer", None)  # votes follow the prompt format
    with answering(style):
        picks = fn([p.public() for p in problems], ctx, budget=budget, seed=seed, **options)
    wall = time.perf_counter() - t0
    if len(picks) != len(problems):
        raise PonderError(f"strategy {strategy!r} returned {len(picks)} results for {len(problems)} problems")
    results = []
    for i, (p, pick) in enumerate(zip(problems, picks)):
        with answering(style):
            r = to_result(pick)
        r.problem_id = p.id
        r.strategy = strategy
        r.cost = ctx.cost(i, wall / len(problems), gen.n_params)
        r.meta.update(
            budget=budget,
            seed=seed,
            scorer=scorer_label,
            batch_seconds=wall,
            batch_size=len(problems),
            options=dict(options),
        )
        if scorer_options:
            r.meta["scorer_options"] = dict(scorer_options)
        if top_p is not None:
            r.meta["top_p"] = top_p
        results.append(r)
    return results
