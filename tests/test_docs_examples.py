"""Every example problem in the docs is solvable, and every worked trace checks out.

Example problems are collected from the README, docs/*.md, the built-in tasks' module docstrings
and the `--help` / error texts of `ponder solve` (quoted `ponder solve "..."` arguments, and
backticked "Question: `...`" / "(also `...`)" phrases). Each must be read by a built-in task's
parser and have a solution the task's own checker accepts (Countdown, which carries no reference
answer, is solved here by brute force). Worked traces (`<think>...</answer>`) must be accepted
by the checker of the example question written before them, and no step may be rejected by the
task's step checker.
"""

from __future__ import annotations

import itertools
import json
import re
from fractions import Fraction
from pathlib import Path

import pytest

from ponder.steps import split_steps
from ponder.tasks import detect_task, get_task
from ponder.tasks.task import format_response
from ponder.types import PonderError, Problem

ROOT = Path(__file__).resolve().parents[1]
QUESTION = re.compile(r"""ponder solve ["']([^"']+)["']|[Qq]uestion\**:?\**\s+`([^`]+)`|\(also `([^`]+)`\)""")
TRACE = re.compile(r'<think>[^`|"]*?</answer>')  # not inside table cells, inline code pairs or JSON
PLACEHOLDERS = {"<think>s1\ns2</think>\n<answer>a</answer>"}  # ponder/tasks/task.py: the format, not a trace


def _help_texts() -> dict[str, str]:
    from ponder.search import cli

    with pytest.raises(PonderError) as err:
        detect_task("not a problem at all")
    quoted = re.findall(r"'([^']+)'", str(err.value))[1:]  # [0] is the rejected input
    return {
        "ponder solve --help": cli.__doc__ or "",
        "detect_task error": " ".join(f'ponder solve "{q}"' for q in quoted),
    }


def _sources() -> dict[str, str]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "ponder/tasks").glob("*.py"))]
    out = {str(f.relative_to(ROOT)): f.read_text() for f in files}
    return out | _help_texts()


def _questions(text: str) -> list[tuple[int, str]]:
    return [(m.start(), next(g for g in m.groups() if g)) for m in QUESTION.finditer(text)]


EXAMPLES = sorted({(name, q) for name, text in _sources().items() for _, q in _questions(text)})


def countdown_solution(numbers: list[int], target: int) -> str | None:
    """An expression reaching target with each number used at most once (brute force, exact)."""
    items = [(Fraction(n), str(n)) for n in numbers]

    def search(items: list[tuple[Fraction, str]]) -> str | None:
        for value, text in items:
            if value == target:
                return text
        for (i, (a, ta)), (j, (b, tb)) in itertools.permutations(enumerate(items), 2):
            rest = [x for k, x in enumerate(items) if k not in (i, j)]
            options = [(a + b, f"({ta}+{tb})"), (a * b, f"({ta}*{tb})"), (a - b, f"({ta}-{tb})")]
            options += [(a / b, f"({ta}/{tb})")] if b else []
            for value, text in options:
                found = search([*rest, (value, text)])
                if found:
                    return found
        return None

    return search(items)


def solved(p: Problem) -> str | None:
    if p.answer is not None:
        return p.answer
    return countdown_solution(p.meta["numbers"], p.meta["target"]) if p.task == "countdown" else None


def test_the_docs_have_examples():
    names = {q for _, q in EXAMPLES}
    assert len(names) >= 6, names
    assert any(src.startswith("README") for src, _ in EXAMPLES) and any("--help" in s for s, _ in EXAMPLES)


@pytest.mark.parametrize("source, question", EXAMPLES)
def test_every_example_problem_is_solvable(source, question):
    p = detect_task(question)
    answer = solved(p)
    assert answer is not None, f"{source}: {question!r} has no solution"
    score = get_task(p.task).check(p, format_response(["worked"], answer))
    assert score.correct, f"{source}: {question!r}: {answer} -> {score.reason}"


def _traces() -> list[tuple[str, str, str]]:
    """(source, question, trace) for every worked trace, paired with the question before it."""
    out = []
    for name, text in _sources().items():
        questions = _questions(text)
        for m in TRACE.finditer(text):
            before = [q for pos, q in questions if pos < m.start()]
            trace = m.group(0).replace("\\\\n", "\n").replace("\\n", "\n")
            trace = "\n".join(line.strip() for line in trace.splitlines())
            if trace in PLACEHOLDERS or "…" in trace:  # a sketch of the format, not a worked trace
                continue
            out.append((name, before[-1] if before else "", trace))
    rm_doc = (ROOT / "docs/rm.md").read_text()  # the step-label example: question and steps in JSON
    question = re.search(r'"question": "([^"]+)"', rm_doc)[1]
    out.append(("docs/rm.md", question, "".join(json.loads(re.search(r'"steps": (\[.*?\]),', rm_doc)[1]))))
    return out


TRACES = _traces()


def test_the_docs_have_worked_traces():
    assert {src for src, _, _ in TRACES} >= {"docs/tasks.md", "docs/rm.md", "ponder/tasks/countdown.py"}


@pytest.mark.parametrize("source, question, trace", TRACES)
def test_every_worked_trace_checks_out(source, question, trace):
    assert question, f"{source}: a worked trace with no example question before it: {trace!r}"
    p = detect_task(question)
    task = get_task(p.task)
    score = task.check(p, trace)
    assert score.correct, f"{source}: {question!r}: the checker says {score.reason!r} for {trace!r}"
    rejected = [s for s in split_steps(trace) if task.check_step(p, s) is False]
    assert not rejected, f"{source}: {question!r}: the step checker rejects {rejected}"


def test_the_old_unsolvable_example_would_fail():
    """The checks above can fail: the README's former showcase and tasks.md's former trace."""
    assert countdown_solution([3, 7, 12], 45) is None
    p = detect_task("Use 3 7 12 to make 45")
    old = "<think>7*12=84,84-3=81 no\n3+12=15,15*3=45 yes</think>\n<answer>(3+12)*3</answer>"
    assert not get_task(p.task).check(p, old).correct
    assert any(get_task(p.task).check_step(p, s) is False for s in split_steps(old))
