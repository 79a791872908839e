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

import logging
import math
import threading
from fractions import Fraction

from ponder.answers import clean_answer, extract, plain_number
from ponder.types import PonderError, Problem, Score
from ponder.verify import VERIFIERS
from ponder.verify.math_text import normalize, well_formed
from ponder.verify.worker_pool import PoolResult, WorkerPool

DEFAULT_TIMEOUT = 5.0
_POOLS: dict[int, WorkerPool] = {}
_POOLS_LOCK = threading.Lock()
CACHE_SIZE = 100_000
_CACHE: dict[tuple[str, str], PoolResult] = {}  # (gold, pred) -> math-verify verdict, oldest first


def normalize_invisible(text: str) -> str:
    """The response without byte-order marks and zero-width characters (they split tags)."""
    return text.replace("\ufeff", "").replace("\u200b", "")


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


class _TimeoutSeen(logging.Handler):
    """math-verify swallows its own `signal.alarm` timeouts and only logs them; this notices."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen = False

    def emit(self, record: logging.LogRecord) -> None:
        if "timeout" in record.getMessage().lower():
            self.seen = True


def math_verify_equal(item: list[str]) -> bool | str:
    """Pool handler: math-verify's judgement of [gold, pred] (runs in a worker's main thread);
    "timeout" when one of math-verify's own time limits fired and nothing matched."""
    from math_verify import parse, verify

    seen = _TimeoutSeen()
    logger = logging.getLogger("math_verify")
    logger.addHandler(seen)
    try:
        gold, pred = item
        g = parse(f"${gold}$", parsing_timeout=3) or parse(gold, parsing_timeout=3)
        p = parse(f"${pred}$", parsing_timeout=3) or parse(pred, parsing_timeout=3)
        equal = bool(g and p and verify(g, p, timeout_seconds=3))
    finally:
        logger.removeHandler(seen)
    return "timeout" if seen.seen and not equal else equal


def _first_pass(problem: Problem, response: str) -> tuple[Score | None, tuple[str, str] | None]:
    """A final Score, or the (gold, pred) pair that math-verify must judge."""
    if isinstance(response, str) and not _encodable(response):
        return Score(0.0, parsed=False, reason="response is not valid text (cannot be encoded as UTF-8)"), None
    found = extract(normalize_invisible(response)) if isinstance(response, str) else None
    if found is None:
        return Score(0.0, parsed=False, reason="no answer found"), None
    if problem.answer is None:
        return Score(0.0, parsed=True, reason="problem has no reference answer", extracted=found.text), None
    gold, pred = normalize(clean_answer(str(problem.answer))), normalize(found.text)
    decided = fast_compare(gold, pred)
    if decided is None and not well_formed(pred):
        return Score(0.0, reason=f"not equal (malformed answer, {found.source})", extracted=found.text), None
    if decided is not None:
        reason = f"{'equal' if decided else 'not equal'} ({found.source}, exact)"
        return Score(float(decided), reason=reason, extracted=found.text), None
    return None, (gold, pred)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def judge_pairs(pairs: list[tuple[str, str]], timeout: float, workers: int) -> dict[tuple[str, str], PoolResult]:
    """math-verify's verdict per distinct (gold, pred): cached verdicts first, the rest pooled.

    Samples of one problem often share an answer, so deduplicating a batch saves most of the work
    in RL; timeouts and errors are not cached (a loaded machine can cause them)."""
    verdicts = {pair: _CACHE[pair] for pair in set(pairs) if pair in _CACHE}
    todo = [pair for pair in dict.fromkeys(pairs) if pair not in verdicts]
    for pair, res in zip(todo, shared_pool(workers).map([list(p) for p in todo], timeout=timeout) if todo else []):
        if res.status == "ok" and res.value == "timeout":
            res = PoolResult("timeout", error="math-verify's own time limit")
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
    check_options(timeout, workers)
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
    if len(out) != len(problems):
        raise PonderError(f"math verifier: {len(out)} scores for {len(problems)} responses")
    return out  # type: ignore[return-value]


def check_options(timeout: float, workers: int) -> None:
    """workers an integer >= 1, timeout a finite number > 0 (0, negative or nan would hang or
    turn the hard time limit off)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise PonderError(f"math verifier: workers must be an integer >= 1, got {workers!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout <= 0:
        raise PonderError(f"math verifier: timeout must be a finite number of seconds > 0, got {timeout!r}")


@VERIFIERS.register("math")
def math_verifier(timeout: float = DEFAULT_TIMEOUT, workers: int = 2):
    """A Verifier for problems whose `answer` is a number or LaTeX (gsm8k, math)."""
    check_options(timeout, workers)

    def verify_math(problems: list[Problem], responses: list[str]) -> list[Score]:
        return math_scores(problems, responses, timeout=timeout, workers=workers)

    return verify_math
