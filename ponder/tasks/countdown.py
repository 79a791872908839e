"""Countdown: reach a target from 3-6 numbers with + - * /, each number used at most once.

Question: `Use 3 7 12 to make 57`. Difficulty level = how many numbers (3-6); numbers 1-20, the
target (1-100) is built from all of them, so a solution always exists. Every intermediate result
is a positive integer (subtraction larger-first, division only when exact).

The trace is a search with backtracking, in the spirit of "stream of search": each line is one
attempt from the start, a chain of operations whose last value is compared with the target in
writing (`=81≠57 no`: it missed; `=57=57 yes`: it hit), so the verdict follows from two numbers
side by side; then the answer as one expression:
`<think>7*12=84,84-3=81≠57 no\\n7+12=19,19*3=57=57 yes</think>\\n<answer>(7+12)*3</answer>`.
`trace_with_slip` writes a trace whose right attempt first slips (a wrong last operation, so
the comparison says no), then `wait ` and the attempt redone right: reflection in miniature.
The checker parses the answer with a safe parser (never eval); the step checker recomputes each
operation of a line, checks number use against the public numbers, and checks the comparison
and the verdict. Lines of the older format without the comparison (`...=81 no`) still check.
"""

from __future__ import annotations

import random
import re
from collections import Counter

from ponder.steps import WAIT, parse_response, step_body, strip_wait
from ponder.tasks import TASKS
from ponder.tasks.expr import ExprError, evaluate
from ponder.tasks.task import format_response
from ponder.types import Problem, Score

_OP = re.compile(r"^(\d+)([-+*/])(\d+)=(\d+)(?:(≠|!=|=)(\d+))?$")  # last op may carry the comparison
NE = "≠"
_QUESTION = re.compile(r"^\s*(?:countdown:?\s*)?use\s+([\d\s,]+?)\s+to\s+make\s+(\d+)\s*\.?\s*$", re.IGNORECASE)
_SHORT = re.compile(r"^\s*countdown:?\s*([\d\s,]+?)\s*(?:->|=>|target:?)\s*(\d+)\s*$", re.IGNORECASE)
PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


def apply(a: int, op: str, b: int) -> int | None:
    """a op b when it stays a positive integer, else None."""
    if op == "+":
        return a + b
    if op == "*":
        return a * b
    if op == "-":
        return a - b if a > b else None
    return a // b if b > 0 and a % b == 0 else None


def _join(left: tuple[str, int], op: str, right: tuple[str, int]) -> tuple[str, int]:
    """Combine (expression, precedence) pairs with the fewest parentheses."""
    lt = f"({left[0]})" if left[1] < PREC[op] else left[0]
    rt = f"({right[0]})" if right[1] < PREC[op] or (right[1] == PREC[op] and op in "-/") else right[0]
    return f"{lt}{op}{rt}", PREC[op]


def random_attempt(rng: random.Random, numbers: list[int], max_ops: int) -> tuple[list[str], int, str]:
    """Combine numbers pairwise at random: (`a op b=c` steps, final value, expression)."""
    pool = [(n, (str(n), 3)) for n in numbers]
    steps: list[str] = []
    while len(pool) > 1 and len(steps) < max_ops:
        i, j = rng.sample(range(len(pool)), 2)
        (a, ea), (b, eb) = pool[i], pool[j]
        if a < b:
            (a, ea), (b, eb) = (b, eb), (a, ea)
        ops = [op for op in "+-*/" if apply(a, op, b) is not None and apply(a, op, b) <= 1000]
        op = rng.choice(ops)
        c = apply(a, op, b)
        steps.append(f"{a}{op}{b}={c}")
        pool = [x for k, x in enumerate(pool) if k not in (i, j)] + [(c, _join(ea, op, eb))]
    return steps, pool[-1][0], pool[-1][1][0]


@TASKS.register("countdown")
class Countdown:
    name = "countdown"
    levels = (3, 4, 5, 6)
    train_levels = (3, 4)
    default_level = 3  # 3 numbers: tiny v2 gets 0.24 greedy, tiny-v1 0.14 (model cards)
    reference_free = True

    def sample(self, rng: random.Random, level: int) -> Problem:
        while True:
            numbers = [rng.randint(1, 20) for _ in range(level)]
            steps, value, expr = random_attempt(rng, numbers, max_ops=level - 1)
            if 1 <= value <= 100 and len(steps) == level - 1 and value not in numbers:
                return Problem(
                    id="",
                    task="countdown",
                    question=f"Use {' '.join(map(str, numbers))} to make {value}",
                    answer=expr,
                    meta={"numbers": numbers, "target": value, "level": level},
                )

    def trace(self, problem: Problem, rng: random.Random) -> str:
        numbers, target = problem.meta["numbers"], problem.meta["target"]
        return format_response(self._misses(rng, numbers, target) + [_verdict_line(problem)], problem.answer)

    def trace_with_slip(self, problem: Problem, rng: random.Random) -> str:
        """A trace whose right attempt slips in its last operation, then `wait ` and it redone right."""
        numbers, target = problem.meta["numbers"], problem.meta["target"]
        right = _solution_steps(problem.answer)
        a, op, b, c = _OP.match(right[-1]).groups()[:4]
        wrong = slip_value(rng, int(c), avoid=target)
        slipped = ",".join(right[:-1] + [f"{a}{op}{b}={wrong}"]) + f"{NE}{target} no"
        lines = self._misses(rng, numbers, target) + [slipped, WAIT + _verdict_line(problem)]
        return format_response(lines, problem.answer)

    def _misses(self, rng: random.Random, numbers: list[int], target: int) -> list[str]:
        lines = []
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
            steps, value, _ = random_attempt(rng, numbers, max_ops=len(numbers) - 1)
            if value != target:
                lines.append(",".join(steps) + f"{NE}{target} no")
        return lines

    def check(self, problem: Problem, response: str) -> Score:
        answer = parse_response(response).answer
        if answer is None:
            return Score(0.0, parsed=False, reason="no <answer> tag")
        return check_expression(answer, problem.meta["numbers"], problem.meta["target"], exact_use=False)

    def check_step(self, problem: Problem, step: str) -> bool | None:
        body = strip_wait(step_body(step))
        if not body or "<answer>" in body:
            return None
        m = re.match(r"^(.*) (yes|no)$", body)
        chain, verdict = (m[1], m[2]) if m else (body, None)
        target = problem.meta["target"]
        pool = Counter(problem.meta["numbers"])
        value, compared = None, None
        ops = chain.split(",")
        for k, op_text in enumerate(ops):
            om = _OP.match(op_text.strip())
            if not om or (om[5] and k < len(ops) - 1):
                return False
            a, op, b, c = int(om[1]), om[2], int(om[3]), int(om[4])
            if apply(a, op, b) != c or pool[a] < 1 + (a == b) or pool[b] < 1:
                return False
            pool[a] -= 1
            pool[b] -= 1
            pool[c] += 1
            value, compared = c, (om[5], int(om[6])) if om[5] else None
        if compared is not None:  # `=25≠3`: the target copied right and the relation true
            sign, t = compared
            if t != target or (sign == "=") != (value == target):
                return False
            if verdict is not None and (sign == "=") != (verdict == "yes"):
                return False
        if verdict is not None:
            return (value == target) == (verdict == "yes")
        return True

    def parse(self, text: str) -> Problem | None:
        m = _QUESTION.match(text) or _SHORT.match(text)
        if not m:
            return None
        numbers = [int(x) for x in re.findall(r"\d+", m[1])]
        if not 2 <= len(numbers) <= 8:
            return None
        target = int(m[2])
        return Problem(
            id="input",
            task="countdown",
            question=f"Use {' '.join(map(str, numbers))} to make {target}",
            meta={"numbers": numbers, "target": target, "level": len(numbers)},
        )


def slip_value(rng: random.Random, value: int, avoid: int | None = None) -> int:
    """A plausible wrong result for `value` (off by one, by a carry, or by a few), positive and
    different from `value` and from `avoid`."""
    while True:
        wrong = value + rng.choice([-1, 1, -10, 10, rng.randint(-9, 9)])
        if wrong > 0 and wrong != value and wrong != avoid:
            return wrong


def _verdict_line(problem: Problem) -> str:
    """The right attempt with its comparison: `3+12=15,15*3=45=45 yes`."""
    target = problem.meta["target"]
    return ",".join(_solution_steps(problem.answer)) + f"={target} yes"


def verdict_lines(problem: Problem, response: str) -> list[bool]:
    """For every line of a response that ends in yes/no: is the verdict right about the value
    the line actually reached (whatever its arithmetic)? The measure of learnable self-checks."""
    from ponder.steps import think_steps

    out = []
    for line in think_steps(response):
        m = re.match(r"^(.*) (yes|no)$", strip_wait(line))
        last = _OP.match(m[1].rsplit(",", 1)[-1].strip()) if m else None
        if last:
            out.append((int(last[4]) == problem.meta["target"]) == (m[2] == "yes"))
    return out


def _solution_steps(expr: str) -> list[str]:
    """The `a op b=c` operations of an expression in evaluation order."""
    from ponder.tasks.arithmetic import reduce_once

    tokens = [int(t) if t.isdigit() else t for t in re.findall(r"\d+|\S", expr)]
    steps = []
    while len(tokens) > 1:
        text, tokens = reduce_once(tokens)
        steps.append(text)
    return steps


def check_expression(expr: str, numbers: list[int], target: int, exact_use: bool) -> Score:
    """Is `expr` a valid solution: value == target, numbers used at most once (exactly once if
    exact_use, as in Game of 24)? Total: malformed input is a parse failure, never an exception."""
    try:
        ev = evaluate(expr.replace(" ", "").split("=")[0])
    except ExprError as e:
        return Score(0.0, parsed=False, reason=f"not an expression: {e}", extracted=expr)
    used, have = Counter(ev.numbers), Counter(numbers)
    if any(used[n] > have[n] for n in used):
        return Score(0.0, reason="uses a number more often than given", extracted=expr)
    if exact_use and used != have:
        return Score(0.0, reason="must use every number exactly once", extracted=expr)
    if ev.value != target:
        return Score(0.0, reason=f"evaluates to {ev.value}, not {target}", extracted=expr)
    return Score(1.0, reason="correct", extracted=expr)
