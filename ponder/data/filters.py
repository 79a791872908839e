"""The filters of `ponder data`: each a small pure function `(records, ctx) -> kept records`,
registered by name and applied in the order the config declares. A record is one verified
rollout (problem_id, task, question, answer, prompt, response, correct, score, cost, meta);
`meta.pass_rate` (the share of its problem's K samples that verified) is set before filtering.

Language consistency reuses verify's `language` reward (DeepSeek-R1's: the share of the
reasoning's words in the target language's script); a response with no words is kept.
Left out: semantic (embedding) near-duplicates — near duplicates here are character-shingle
Jaccard matches; telling apart languages that share a script (see verify/rewards/language.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ponder.registry import Registry
from ponder.steps import parse_response

Record = dict[str, Any]
FILTERS = Registry("data filter")


@dataclass
class FilterContext:
    """What filters may read beyond the records: the config's bounds, and score_steps (records ->
    per-step scores of each response, from the step checker or a PRM; None: no step scorer)."""

    min_pass_rate: float = 0.0
    max_pass_rate: float = 1.0
    min_chars: int = 1
    max_chars: int = 4000
    near_dup: float = 0.9
    step_threshold: float = 0.5
    language: str = "en"
    min_language: float = 0.9
    score_steps: Callable[[list[Record]], list[list[float]]] | None = None


@FILTERS.register("correct")
def correct(records: list[Record], ctx: FilterContext) -> list[Record]:
    """Keep the rollouts the verifier accepted."""
    return [r for r in records if r["correct"]]


@FILTERS.register("pass_rate")
def pass_rate(records: list[Record], ctx: FilterContext) -> list[Record]:
    """Drop problems solved too often (too easy) or too rarely (too hard): keep a band, inclusive."""
    return [r for r in records if ctx.min_pass_rate <= r["meta"]["pass_rate"] <= ctx.max_pass_rate]


@FILTERS.register("length")
def length(records: list[Record], ctx: FilterContext) -> list[Record]:
    """Keep responses of min_chars..max_chars characters, and none cut off by the token limit."""
    ok = [r for r in records if ctx.min_chars <= len(r["response"]) <= ctx.max_chars]
    return [r for r in ok if r["meta"].get("finish_reason") != "length"]


@FILTERS.register("exact_dup")
def exact_dup(records: list[Record], ctx: FilterContext) -> list[Record]:
    """Keep the first of responses with the same text (whitespace-normalised) for one problem."""
    seen, out = set(), []
    for r in records:
        key = (r["problem_id"], " ".join(r["response"].split()))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def shingles(text: str, n: int = 3) -> set[str]:
    """Character n-grams of the whitespace-normalised text (the whole text when shorter)."""
    t = " ".join(text.split())
    return {t[i : i + n] for i in range(max(len(t) - n + 1, 1))}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


@FILTERS.register("near_dup")
def near_dup(records: list[Record], ctx: FilterContext) -> list[Record]:
    """Drop a response whose shingle Jaccard similarity to an earlier kept one of the same
    problem is >= near_dup. Quadratic per problem: fine for K up to a few hundred."""
    kept: dict[str, list[set[str]]] = {}
    out = []
    for r in records:
        sh, prev = shingles(r["response"]), kept.setdefault(r["problem_id"], [])
        if all(jaccard(sh, p) < ctx.near_dup for p in prev):
            prev.append(sh)
            out.append(r)
    return out


@FILTERS.register("format")
def format_ok(records: list[Record], ctx: FilterContext) -> list[Record]:
    """Keep responses with a `<think>` block and one non-empty `<answer>` after it."""
    out = []
    for r in records:
        p = parse_response(r["response"])
        if p.think is not None and p.answer and p.answer.strip() and r["response"].count("<answer>") == 1:
            out.append(r)
    return out


@FILTERS.register("language")
def language(records: list[Record], ctx: FilterContext) -> list[Record]:
    """Keep responses whose reasoning has at least min_language of its words in the target
    language's script (R1's language-consistency reward), and those with no words at all."""
    from ponder.verify.rewards import call_reward, get_reward

    if not records:
        return records
    fn = get_reward("language", target=ctx.language)
    shares = call_reward(fn, [r["prompt"] for r in records], [r["response"] for r in records], name="language")
    return [r for r, s in zip(records, shares) if s is None or s >= ctx.min_language]


@FILTERS.register("steps")
def steps(records: list[Record], ctx: FilterContext) -> list[Record]:
    """Drop a response with any step scored below step_threshold (step checker: a wrong step
    scores 0; a PRM: its probability the step is right)."""
    if ctx.score_steps is None or not records:
        return records
    scores = ctx.score_steps(records)
    return [r for r, s in zip(records, scores) if all(x >= ctx.step_threshold for x in s)]


def apply_filters(
    records: list[Record], names: list[str], ctx: FilterContext
) -> tuple[list[Record], list[dict[str, Any]]]:
    """Run the filters in order -> (kept, [{filter, before, after, removed, problems_after}])."""
    counts = []
    for name in names:
        fn: Callable = FILTERS.get(name)
        before = len(records)
        records = fn(records, ctx)
        counts.append({"filter": name, "before": before, "after": len(records), "removed": before - len(records),
                       "problems_after": len({r["problem_id"] for r in records})})  # fmt: skip
    return records, counts


def difficulty(rate: float) -> str:
    """A label from a problem's pass rate: easy (>= 0.75), medium (>= 0.25), hard (> 0), unsolved."""
    if rate >= 0.75:
        return "easy"
    if rate >= 0.25:
        return "medium"
    return "hard" if rate > 0 else "unsolved"
