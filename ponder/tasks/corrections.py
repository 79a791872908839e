"""On-policy corrections: a model's own response rewritten into a training trace whose checks
are right (DAgger for self-checks: the states are the model's, the labels the checker's).

Countdown: every attempt line the model wrote (up to 5, duplicates dropped, its own `wait`
marker ignored; a response cut off by the token limit counts, as a model that never stops trying) is kept as it was reached and re-judged: ` vs T` with the question's
target, then `yes` if the line's value is the target, else `no`. A line whose arithmetic or
number use is wrong keeps its chain untrained (weight 0, as a slip) while its comparison and
verdict, true about the value it wrote, are trained. The first right line that hits ends the
trace with that line's expression as the answer; otherwise the generator's hit (the problem's
solution) follows the model's misses. So the chains the model writes most confidently appear
with `no` whenever they miss, which the generated traces (whose hit is always the solution, the
most predictable chain) never show.

Arithmetic: the model's steps are kept while the step checker accepts them; the first wrong
step is followed by `wait ` + the right step from the last right expression and the rest of the
solution (the reflection-trace form, so steps.slip_segments leaves the wrong step untrained).

The result is a list of (text, trained) pieces (train.batch.encode_segments). Lines that do not
parse as an attempt are dropped. Left out: tasks without a step checker of this shape
(equations, knights), and keeping the model's own `wait` lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ponder.steps import STEP_DELIMITER, THINK_CLOSE, THINK_OPEN, WAIT, slip_segments, strip_wait, think_steps
from ponder.tasks.task import format_response
from ponder.types import Problem

Segments = list[tuple[str, bool]]
_VERDICT = re.compile(r"^(.*?)(?:\s+vs\s+\d+)?\s+(yes|no)$")


def attempt_lines(response: str) -> list[str]:
    """The lines of the `<think>` body, stripped, empty ones dropped; a response cut off before
    `</think>` (a model that never stops trying) gives its lines but the last, perhaps cut short."""
    if THINK_OPEN not in response or THINK_CLOSE in response:
        return think_steps(response)
    body = response.split(THINK_OPEN, 1)[1].split(STEP_DELIMITER)[:-1]
    return [s.strip() for s in body if s.strip()]


def countdown_ops(chain: str) -> list[tuple[int, str, int, int]] | None:
    """`7*12=84,84-3=81` (a written `≠T`/`=T` on the last op is ignored) -> its operations, or None."""
    from ponder.tasks.countdown import _OP

    ops = []
    for text in chain.split(","):
        m = _OP.match(text.strip())
        if not m:
            return None
        ops.append((int(m[1]), m[2], int(m[3]), int(m[4])))
    return ops


def countdown_expression(numbers: list[int], ops: list[tuple[int, str, int, int]]) -> str | None:
    """The expression a chain of operations builds from the numbers, or None when an operation is
    wrong or uses a number that is not there (each number once, results reusable)."""
    from ponder.tasks.countdown import _join, apply

    pool: list[tuple[int, tuple[str, int]]] = [(n, (str(n), 3)) for n in numbers]
    for a, op, b, c in ops:
        if apply(a, op, b) != c:
            return None
        ia = next((i for i, (v, _) in enumerate(pool) if v == a), None)
        if ia is None:
            return None
        left = pool.pop(ia)
        ib = next((i for i, (v, _) in enumerate(pool) if v == b), None)
        if ib is None:
            return None
        right = pool.pop(ib)
        pool.append((c, _join(left[1], op, right[1])))
    return pool[-1][1][0] if ops else None


def correct_countdown(problem: Problem, response: str, max_lines: int = 5) -> Segments | None:
    """The model's attempt lines re-judged (see the module docstring); None when it wrote none."""
    from ponder.tasks.countdown import _verdict_line

    target, numbers = problem.meta["target"], problem.meta["numbers"]
    pieces: Segments = []
    seen: set[str] = set()
    for line in attempt_lines(response):
        m = _VERDICT.match(strip_wait(line))
        ops = countdown_ops(m[1]) if m else None
        if not ops:
            continue
        chain = ",".join(f"{a}{op}{b}={c}" for a, op, b, c in ops)
        if chain in seen:
            continue
        seen.add(chain)
        value, expr = ops[-1][3], countdown_expression(numbers, ops)
        if value == target and expr is None:
            break  # a wrong chain that lands on the target: the generator's hit follows instead
        verdict = f" vs {target} {'yes' if value == target else 'no'}{STEP_DELIMITER}"
        pieces += [(chain + verdict, True)] if expr is not None else [(chain, False), (verdict, True)]
        if value == target:
            return _close(pieces, expr)
        if len(seen) >= max_lines:
            break
    if not pieces:
        return None
    return _close(pieces + [(_verdict_line(problem) + STEP_DELIMITER, True)], problem.answer)


def _close(pieces: Segments, answer: str) -> Segments:
    """`<think>` + the lines (the last newline becomes `</think>`) + the answer."""
    text, trained = pieces[-1]
    pieces = [(THINK_OPEN, True)] + pieces[:-1] + [(text.removesuffix(STEP_DELIMITER), trained)]
    return pieces + [(format_response([], answer).removeprefix(THINK_OPEN), True)]


def correct_arithmetic(problem: Problem, response: str) -> Segments | None:
    """The model's right steps, then (at its first wrong step) `wait ` + the right step and the
    rest of the solution; None when it wrote no step."""
    from ponder.tasks import get_task
    from ponder.tasks.arithmetic import solve_steps

    task = get_task("arithmetic")
    lines = [s for s in attempt_lines(response) if not s.startswith(WAIT.strip())]
    if not lines:
        return None
    kept: list[str] = []
    expr = problem.meta["expression"]
    for line in lines:
        if task.check_step(problem, line):
            kept.append(line)
            expr = line.split(",", 1)[1] if "," in line else line.split("=")[1]
            continue
        rest, _ = solve_steps(_tokens(expr))
        if not rest:
            break
        return slip_segments(format_response(kept + [line, WAIT + rest[0]] + rest[1:], problem.answer))
    rest, _ = solve_steps(_tokens(expr))
    return slip_segments(format_response(kept + rest, problem.answer))


def _tokens(expr: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.findall(r"\d+|\S", expr)]


CORRECTIONS: dict[str, Callable[[Problem, str], Segments | None]] = {
    "countdown": correct_countdown,
    "arithmetic": correct_arithmetic,
}


def pieces_text(pieces: Segments) -> str:
    """The response the pieces spell."""
    return "".join(t for t, _ in pieces)
