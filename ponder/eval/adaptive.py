"""Compute-optimal strategy selection by difficulty (Snell et al. 2024, "Scaling LLM Test-Time
Compute Optimally can be More Effective than Scaling Model Parameters", section 3.2).

Difficulty is estimated without the reference answer: the policy's own agreement rate (share of
its first m pooled samples that give the modal answer). Problems are split in halves (by a hash
of their id); bins are quantiles of the train half's difficulty. For each budget and bin, the
strategy with the best train accuracy in that bin is chosen; on the test half, that adaptive
choice is compared with the single strategy that did best on the whole train half, at the same
budget (samples' worth), with a paired bootstrap interval on the difference.
Honest caveats: estimating difficulty costs m samples per problem, which are not charged to
the adaptive policy here (Snell et al. also treat it apart); the oracle pass@k is never a candidate.
Left out: predicting difficulty with a learned model; mixing strategies within a bin.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ponder.eval.bootstrap import paired_diff_ci

Table = dict[str, dict[str, float]]  # strategy -> problem id -> correctness (mean over seeds)


@dataclass
class BudgetChoice:
    task: str
    model: str
    budget: int
    choices: list[str]  # per bin, hardest (lowest agreement) first
    edges: list[float]  # agreement-rate cut points between bins
    adaptive_acc: float
    single: str
    single_acc: float
    diff: float
    diff_low: float
    diff_high: float
    adaptive_tokens: float
    single_tokens: float
    n_train: int
    n_test: int


def split_ids(ids: Sequence[str], seed: int = 0) -> tuple[list[str], list[str]]:
    """Half the ids for choosing (train), half for judging (test), by a seeded hash of the id."""
    ranked = sorted(ids, key=lambda i: hashlib.sha1(f"{seed}:{i}".encode()).hexdigest())
    half = len(ranked) // 2
    return sorted(ranked[:half]), sorted(ranked[half:])


def bin_edges(values: Sequence[float], n_bins: int) -> list[float]:
    """n_bins - 1 quantile cut points of the values (duplicates removed)."""
    v = sorted(values)
    cuts = [v[min(len(v) - 1, (len(v) * i) // n_bins)] for i in range(1, n_bins)]
    return sorted(set(cuts))


def assign_bin(value: float, edges: Sequence[float]) -> int:
    return bisect.bisect_right(edges, value)


def _mean(table: Table, strategy: str, ids: Sequence[str]) -> float:
    return sum(table[strategy][i] for i in ids) / len(ids) if ids else 0.0


def choose_per_bin(table: Table, ids_by_bin: list[list[str]], fallback: str) -> list[str]:
    """The best strategy on each bin's train problems; `fallback` for an empty bin or a tie."""
    out = []
    for ids in ids_by_bin:
        if not ids:
            out.append(fallback)
            continue
        best = max(_mean(table, s, ids) for s in table)
        tied = [s for s in table if _mean(table, s, ids) == best]
        out.append(fallback if fallback in tied else sorted(tied)[0])
    return out


def _tables(records: list[dict[str, Any]]) -> tuple[dict[int, Table], dict[int, Table]]:
    """Per budget: correctness and generated tokens per strategy and problem, seeds averaged."""
    acc: dict[int, dict[str, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    tok: dict[int, dict[str, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in records:
        if r["strategy"] != "pass":
            acc[r["budget"]][r["strategy"]][r["problem_id"]].append(r["correct"])
            tok[r["budget"]][r["strategy"]][r["problem_id"]].append(r["generated_tokens"])

    def mean(t: dict) -> dict[int, Table]:
        return {
            b: {s: {p: sum(v) / len(v) for p, v in by_p.items()} for s, by_p in by_s.items()} for b, by_s in t.items()
        }

    return mean(acc), mean(tok)


def select(
    records: list[dict[str, Any]], difficulty: dict[str, float], *, n_bins: int = 3, seed: int = 0
) -> list[BudgetChoice]:
    """Adaptive vs best single strategy per budget, for the records of one (task, model)."""
    if not records:
        return []
    task, model = records[0]["task"], records[0]["model"]
    accs, toks = _tables(records)
    out = []
    for budget in sorted(accs):
        table = {s: v for s, v in accs[budget].items() if set(difficulty) <= set(v)}
        if not table:
            continue
        train, test = split_ids(sorted(difficulty), seed)
        if not train or not test:
            continue
        edges = bin_edges([difficulty[i] for i in train], n_bins)
        by_bin: list[list[str]] = [[] for _ in range(len(edges) + 1)]
        for i in train:
            by_bin[assign_bin(difficulty[i], edges)].append(i)
        # ties go to the cheaper strategy (fewer generated tokens on the train half)
        single = max(sorted(table), key=lambda s: (_mean(table, s, train), -_mean(toks[budget], s, train)))
        choices = choose_per_bin(table, by_bin, single)
        picked = {i: choices[assign_bin(difficulty[i], edges)] for i in test}
        adaptive = [table[picked[i]][i] for i in test]
        baseline = [table[single][i] for i in test]
        ci = paired_diff_ci(baseline, adaptive, seed=seed)
        out.append(BudgetChoice(
            task, model, budget, choices, edges, _avg(adaptive), single, _avg(baseline), ci.mean, ci.low, ci.high,
            _avg([toks[budget][picked[i]][i] for i in test]), _avg([toks[budget][single][i] for i in test]),
            len(train), len(test),
        ))  # fmt: skip
    return out


def _avg(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def to_rows(choices: list[BudgetChoice]) -> list[dict[str, Any]]:
    return [asdict(c) for c in choices]
