"""Math verifier hardening: Unicode math, BOM and scientific notation read right; options
validated; math-verify's own timeout reported as a timeout; random junk never matches."""

from __future__ import annotations

import logging
import random

import pytest

from ponder.types import PonderError, Problem
from ponder.verify import math as vmath
from ponder.verify.math import math_scores, math_verifier, math_verify_equal
from ponder.verify.math_text import normalize, scientific, well_formed
from ponder.verify.worker_pool import PoolResult


def _p(answer: str) -> Problem:
    return Problem(id="p", task="math", question="", answer=answer)


@pytest.mark.parametrize(
    ("gold", "written"),
    [("\\frac{1}{2}", "½"), ("\\sqrt{2}", "√2"), ("\\infty", "∞"), ("x^2", "x²"), ("\\aleph_0", "ℵ₀"),
     ("\\aleph_0", "ℵ_0"), ("1000000", "1e6"), ("0.0015", "1.5E-3"), ("3000000", "3 \\times 10^{6}"),
     ("42", "\ufeff42"), ("-5", "−5"), ("\\frac{3}{4}", "¾")],
)  # fmt: skip
def test_unicode_bom_and_scientific_notation_are_read_right(gold, written):
    [score] = math_scores([_p(gold)], [f"\ufeffSo the answer is \\boxed{{{written}}}."])
    assert score.correct, (gold, written, score.reason)


def test_normalize_leaves_ascii_alone_and_is_exact():
    assert normalize("\\frac{1}{3}") == "\\frac{1}{3}" and normalize("x+1") == "x+1"
    assert scientific("1e6") == "1000000" and scientific("2.5e-1") == "0.25" and scientific("1e999") is None
    assert normalize("√(x+1)") == "\\sqrt{(x+1)}" and normalize("2¹⁰") == "2^{10}"
    assert not math_scores([_p("1000000")], ["\\boxed{1e5}"])[0].correct


@pytest.mark.parametrize("bad", [{"workers": 0}, {"workers": -1}, {"workers": True}, {"workers": 1.5},
                                 {"timeout": 0}, {"timeout": -2}, {"timeout": float("nan")},
                                 {"timeout": float("inf")}])  # fmt: skip
def test_numeric_options_are_validated(bad):
    with pytest.raises(PonderError, match="workers|timeout"):
        math_verifier(**bad)


def test_unencodable_response_is_a_parse_failure():
    scores = math_scores([_p("1"), _p("2")], ["\\boxed{1\ud800}", "\\boxed{2}"])
    assert [(s.value, s.parsed) for s in scores] == [(0.0, False), (1.0, True)]


def test_math_verify_internal_timeout_is_reported_as_timeout(monkeypatch):
    import math_verify

    def slow_parse(text, **kwargs):
        logging.getLogger("math_verify.parser").warning("Timeout during parsing: %s", text)
        return []

    monkeypatch.setattr(math_verify, "parse", slow_parse)
    assert math_verify_equal(["x^2", "x*x"]) == "timeout"

    class FakePool:
        def map(self, items, timeout):
            return [PoolResult("ok", value="timeout") for _ in items]

    monkeypatch.setattr(vmath, "shared_pool", lambda workers=2: FakePool())
    [score] = math_scores([_p("x^2")], ["\\boxed{x \\cdot x}"])
    assert score.value == 0.0 and score.reason.startswith("math-verify timeout")
    assert ("x^2", "x \\cdot x") not in vmath._CACHE  # a timeout is never cached as a verdict


def test_well_formed_rejects_junk_prefixes_but_not_intervals():
    assert all(well_formed(t) for t in ("[0, 1)", "(-\\infty, 2]", "\\{1, 2\\}", "f'(x)", "5!", "\\$5"))
    assert not any(well_formed(t) for t in ("6(>", "8)A_5|,*", "4$x", "2+", "1\\}", "?2"))


_TOKENS = list("0123456789abcxyzABC+-*/^_(){}[].,=<>|!?;:'\" ") + [
    "\\frac", "\\sqrt", "\\pi", "\\infty", "\\text{", "\\left(", "\\right)", "½", "√", "∞", "ℵ", "\\", "$",
    "\\cdot", "\\{", "\\}", "e", "i"]  # fmt: skip
REFERENCES = [
    "6",
    "8",
    "4",
    "2",
    "1",
    "0",
    "\\frac{1}{2}",
    "\\sqrt{3}",
    "x^2+1",
    "\\pi",
    "(1, 2)",
    "[0, 1)",
    "12",
    "-3",
]


def test_random_junk_never_matches_a_reference():
    """An audit: 400 junk answers (seeded) against short references; junk made only of digits
    could be a real answer, so each one has at least one non-digit token."""
    rng = random.Random(15)
    problems, responses = [], []
    while len(responses) < 400:
        junk = "".join(rng.choice(_TOKENS) for _ in range(rng.randint(3, 14)))
        if junk.strip().lstrip("-").isdigit():
            continue
        problems.append(_p(rng.choice(REFERENCES)))
        responses.append(f"\\boxed{{{junk}}}" if rng.random() < 0.5 else f"The answer is {junk}")
    scores = math_scores(problems, responses)
    assert len(scores) == 400
    assert [(p.answer, r) for p, r, s in zip(problems, responses, scores) if s.correct] == []
