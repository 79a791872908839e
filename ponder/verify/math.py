"""The math verifier: is the response's final answer equivalent to the reference answer?

The answer is extracted with ponder/answers.py. Plain numbers (integers, decimals, a/b,
\\frac{a}{b}, with thousands separators, currency, units or a percent sign) are compared exactly
in-process; a percent sign on either side also accepts the value divided by 100. Everything else
(and decimals that are not exactly equal, for math-verify's rounding rules) goes to `math-verify`
(parse + verify, the field's standard) in a reusable process pool with a hard per-item timeout
(verify/worker_pool.py), created lazily on first use and shared by every caller in the process.
Distinct (gold, pred) pairs are judged once per batch, and verdicts are kept in a bounded cache.

Left out: symbolic equivalence of our own; answer-type-specific rules beyond math-verify's.
"""

from __future__ import annotations

import threading
from fractions import Fraction

from ponder.answers import clean_answer, extract, plain_number
from ponder.types import Problem, Score
from ponder.verify import VERIFIERS
from ponder.verify.worker_pool import PoolResult, WorkerPool

DEFAULT_TIMEOUT = 5.0
_POOLS: dict[int, WorkerPool] = {}
_POOLS_LOCK = threading.Lock()
CACHE_SIZE = 100_000
_CACHE: dict[tuple[str, str], PoolResult] = {}  # (gold, pred) -> math-verify verdict, oldest first


def shared_pool(workers: int = 2) -> WorkerPool:
    """The process-wide math-verify pool with `workers` processes (created on first use)."""
    with _POOLS_LOCK:
        if workers not in _POOLS:
            _POOLS[workers] = WorkerPool(
                "ponder.verify.math:math_verify_equal", workers=workers, warmup=["1/2", "\\frac{1}{2}"]
            )
        return _POOLS[workers]


def _values(parsed: tuple[str, Fraction, bool]) -> set[Fraction]:
    _, value, percent = parsed
    return {value, value / 100} if percent else {value}


def _is_decimal(text: str) -> bool:
    return "." in text


def fast_compare(gold: str, pred: str) -> bool | None:
    """True / False when both sides are plain numbers (or identical text); None: undecided."""
    if gold == pred:
        return True
    g, p = plain_number(gold), plain_number(pred)
    if g is None or p is None:
        return None
    if _values(g) & _values(p):
        return True
    if _is_decimal(g[0]) or _is_decimal(p[0]):
        return None  # math-verify rounds decimals; let it decide
    return False


def math_verify_equal(item: list[str]) -> bool:
    """Pool handler: math-verify's judgement of [gold, pred] (runs in a worker's main thread)."""
    from math_verify import parse, verify

    gold, pred = item
    g = parse(f"${gold}$", parsing_timeout=3) or parse(gold, parsing_timeout=3)
    p = parse(f"${pred}$", parsing_timeout=3) or parse(pred, parsing_timeout=3)
    if not g or not p:
        return False
    return bool(verify(g, p, timeout_seconds=3))


def _first_pass(problem: Problem, response: str) -> tuple[Score | None, tuple[str, str] | None]:
    """A final Score, or the (gold, pred) pair that math-verify must judge."""
    found = extract(response) if isinstance(response, str) else None
    if found is None:
        return Score(0.0, parsed=False, reason="no answer found"), None
    if problem.answer is None:
        return Score(0.0, parsed=True, reason="problem has no reference answer", extracted=found.text), None
    gold = clean_answer(str(problem.answer))
    decided = fast_compare(gold, found.text)
    if decided is not None:
        reason = f"{'equal' if decided else 'not equal'} ({found.source}, exact)"
        return Score(float(decided), reason=reason, extracted=found.text), None
    return None, (gold, found.text)


def judge_pairs(pairs: list[tuple[str, str]], timeout: float, workers: int) -> dict[tuple[str, str], PoolResult]:
    """math-verify's verdict per distinct (gold, pred): cached verdicts first, the rest pooled.

    Samples of one problem often share an answer, so deduplicating a batch saves most of the work
    in RL; timeouts and errors are not cached (a loaded machine can cause them)."""
    verdicts = {pair: _CACHE[pair] for pair in set(pairs) if pair in _CACHE}
    todo = [pair for pair in dict.fromkeys(pairs) if pair not in verdicts]
    for pair, res in zip(todo, shared_pool(workers).map([list(p) for p in todo], timeout=timeout) if todo else []):
        verdicts[pair] = res
        if res.status == "ok":
            if len(_CACHE) >= CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[pair] = res
    return verdicts


def math_scores(
    problems: list[Problem], responses: list[str], timeout: float = DEFAULT_TIMEOUT, workers: int = 2
) -> list[Score]:
    """Scores for a batch: fast paths in-process, the rest in one pooled math-verify batch."""
    firsts = [_first_pass(p, r) for p, r in zip(problems, responses)]
    pending = [i for i, (score, _) in enumerate(firsts) if score is None]
    verdicts = judge_pairs([firsts[i][1] for i in pending], timeout, workers)
    out = [score for score, _ in firsts]
    for i in pending:
        pred, res = firsts[i][1][1], verdicts[firsts[i][1]]
        if res.status == "ok":
            reason = "equal (math-verify)" if res.value else "not equal (math-verify)"
            out[i] = Score(float(bool(res.value)), reason=reason, extracted=pred)
        else:
            out[i] = Score(0.0, reason=f"math-verify {res.status}: {res.error}", extracted=pred)
    return out  # type: ignore[return-value]


@VERIFIERS.register("math")
def math_verifier(timeout: float = DEFAULT_TIMEOUT, workers: int = 2):
    """A Verifier for problems whose `answer` is a number or LaTeX (gsm8k, math)."""

    def verify_math(problems: list[Problem], responses: list[str]) -> list[Score]:
        return math_scores(problems, responses, timeout=timeout, workers=workers)

    return verify_math
