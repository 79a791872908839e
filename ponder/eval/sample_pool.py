"""One pool of n samples per problem, drawn once and reused for every budget k <= n.

The pool is sampled at a fixed temperature, every sample is verified (correctness is used only
for the metrics, never for choosing), keyed by its extracted answer for voting (ponder.answers.answer_of, the key search's votes use), and scored for
best-of-k / weighted voting. The default score is the model's own confidence, exp(mean token
log-probability) (free: the generator returns it); a named scorer from ponder.search replaces it. Pools are
saved as jsonl so a re-run of the grid does not sample them again.
Left out: growing a pool that is too small (a larger budget needs a new pool).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ponder.answers import answer_of
from ponder.eval.estimators import Sample
from ponder.gen.groups import sample_groups
from ponder.io import read_jsonl, write_jsonl
from ponder.types import Completion, Generator, PonderError, Problem, SamplingParams, Score, Step

VerifyFn = Callable[[list[Problem], list[str]], list[Score]]
ScoreFn = Callable[[list[Problem], list[str], list[Completion]], list[float]]


@dataclass
class PooledSample:
    text: str
    key: str | None
    correct: bool
    parsed: bool
    tokens: int
    score: float


@dataclass
class ProblemPool:
    problem_id: str
    prompt_tokens: int
    seconds: float  # this problem's share of the sampling wall time
    samples: list[PooledSample] = field(default_factory=list)

    def metric_samples(self, k: int | None = None) -> list[Sample]:
        chosen = self.samples if k is None else self.samples[:k]
        return [Sample(key=s.key, correct=s.correct, score=s.score) for s in chosen]

    def mean_tokens(self) -> float:
        return sum(s.tokens for s in self.samples) / len(self.samples)


def confidence(completion: Completion) -> float:
    """The model's confidence in a sample: exp(mean token logprob), in (0, 1]; 1 when empty.
    The same number as ponder.search's default "confidence" scorer, at no extra cost."""
    lps = completion.logprobs or []
    return math.exp(sum(lps) / len(lps)) if lps else 1.0


def confidence_scores(problems: list[Problem], responses: list[str], completions: list[Completion]) -> list[float]:
    return [confidence(c) for c in completions]


def named_scorer(name: str, gen: Generator, **options: Any) -> ScoreFn:
    """Scores from a scorer of ponder.search (outcome, or steps aggregated as search does),
    built once with its options."""
    from ponder.search.engine import SearchContext, get_scorer

    scorer = get_scorer(name, gen, **options)

    def score(problems: list[Problem], responses: list[str], completions: list[Completion]) -> list[float]:
        ctx = SearchContext(gen, scorer, len(problems), label=name)
        return ctx.score(problems, [Step.of(c) for c in completions], list(range(len(problems))))

    return score


def _sample_batch(
    problems: Sequence[Problem], gen: Generator, params: SamplingParams, verify_fn: VerifyFn, score_fn: ScoreFn
) -> list[ProblemPool]:
    start = time.perf_counter()
    groups = sample_groups(gen, problems, params)  # (B, n)
    responses = groups.texts
    scores = groups.unflatten(verify_fn(groups.flat_owners, responses))
    weights = groups.unflatten(score_fn([p.public() for p in groups.flat_owners], responses, groups.flat))
    share = (time.perf_counter() - start) / max(len(problems), 1)
    pools = []
    for p, group, ss, ws in zip(problems, groups.outputs, scores, weights):
        pool = ProblemPool(p.id, group[0].prompt_tokens if group else 0, share)
        for c, s, w in zip(group, ss, ws):
            key = answer_of(c.text, p.task)
            pool.samples.append(PooledSample(c.text, key, s.correct, s.parsed, len(c.token_ids), float(w)))
        pools.append(pool)
    return pools


def build_pool(
    problems: Sequence[Problem],
    gen: Generator,
    *,
    n: int,
    temperature: float,
    max_tokens: int,
    seed: int,
    verify_fn: VerifyFn,
    score_fn: ScoreFn = confidence_scores,
    batch_size: int = 256,
    on_batch: Callable[[int], None] | None = None,
) -> list[ProblemPool]:
    """n samples per problem; `batch_size` sequences per generator call; on_batch(n_done)."""
    per_call = max(1, batch_size // n)
    seeds = SamplingParams(seed=seed).prompt_seeds(len(problems))  # per problem: batch_size changes nothing
    pools: list[ProblemPool] = []
    for start in range(0, len(problems), per_call):
        part = seeds[start : start + per_call]
        params = SamplingParams(n=n, temperature=temperature, max_tokens=max_tokens, seed=part)
        pools += _sample_batch(problems[start : start + per_call], gen, params, verify_fn, score_fn)
        if on_batch is not None:
            on_batch(len(pools))
    return pools


def save_pool(path: str | Path, pools: list[ProblemPool]) -> None:
    write_jsonl(path, [asdict(p) for p in pools])


def load_pool(path: str | Path, problem_ids: Sequence[str], n: int) -> list[ProblemPool]:
    """A saved pool, checked to cover exactly these problems with at least n samples each."""
    records = read_jsonl(path)
    pools = [
        ProblemPool(r["problem_id"], r["prompt_tokens"], r["seconds"], [PooledSample(**s) for s in r["samples"]])
        for r in records
    ]
    if [p.problem_id for p in pools] != list(problem_ids):
        raise PonderError(f"pool {path} was sampled for other problems; delete it to sample a new one")
    short = min(len(p.samples) for p in pools)
    if short < n:
        raise PonderError(f"pool {path} holds {short} samples per problem but {n} are needed; delete it to resample")
    return pools
