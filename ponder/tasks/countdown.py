"""Countdown: reach a target from 3-6 numbers with + - * /, each number used at most once.

Question: `Use 3 7 12 to make 57`. Difficulty level = how many numbers (3-6); numbers 1-20, the
target (1-100) is built from all of them, so a solution always exists. Every intermediate result
is a positive integer (subtraction larger-first, division only when exact).

The trace is a search with backtracking, in the spirit of "stream of search": each line is one
attempt from the start, a chain of operations ending in ` no` (it missed) or ` yes` (it hit),
then the answer as one expression:
`<think>7*12=84,84-3=81 no\\n7+12=19,19*3=57 yes</think>\\n<answer>(7+12)*3</answer>`.
The checker parses the answer with a safe parser (never eval); the step checker recomputes each
operation of a line and checks number use against the public numbers.
"""

from __future__ import annotations

import random
import re
from collections import Counter

from ponder.steps import parse_response, step_body
from ponder.tasks import TASKS
from ponder.tasks.expr import ExprError, evaluate
from ponder.tasks.task import format_response
from ponder.types import Problem, Score

_OP = re.compile(r"^(\d+)([-+*/])(\d+)=(\d+)$")
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
    default_level = 3  # 3 numbers: the shipped tiny reasoner gets ~14% greedy (model card)
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
        lines = []
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
            steps, value, _ = random_attempt(rng, numbers, max_ops=len(numbers) - 1)
            if value != target:
                lines.append(",".join(steps) + " no")
        right = _solution_steps(problem.answer)
        lines.append(",".join(right) + " yes")
        return format_response(lines, problem.answer)

    def check(self, problem: Problem, response: str) -> Score:
        answer = parse_response(response).answer
        if answer is None:
            return Score(0.0, parsed=False, reason="no <answer> tag")
        return check_expression(answer, problem.meta["numbers"], problem.meta["target"], exact_use=False)

    def check_step(self, problem: Problem, step: str) -> bool | None:
        body = step_body(step)
        if not body or "<answer>" in body:
            return None
        m = re.match(r"^(.*) (yes|no)$", body)
        chain, verdict = (m[1], m[2]) if m else (body, None)
        pool = Counter(problem.meta["numbers"])
        value = None
        for op_text in chain.split(","):
            om = _OP.match(op_text.strip())
            if not om:
                return False
            a, op, b, c = int(om[1]), om[2], int(om[3]), int(om[4])
            if apply(a, op, b) != c or pool[a] < 1 + (a == b) or pool[b] < 1:
                return False
            pool[a] -= 1
            pool[b] -= 1
            pool[c] += 1
            value = c
        if verdict is not None:
            return (value == problem.meta["target"]) == (verdict == "yes")
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
