"""Countdown: reach a target from 3-6 numbers with + - * /, each number used at most once.

Question: `Use 3 7 12 to make 57`. Difficulty level = how many numbers (3-6); numbers 1-20, the
target (1-100) is built from all of them, so a solution always exists. Every intermediate result
is a positive integer (subtraction larger-first, division only when exact).

The trace is a search with backtracking, in the spirit of "stream of search": each line is one
attempt from the start, a chain of operations whose last value is set beside the target in
writing (`=81 vs 57 no`: it missed; `=57 vs 57 yes`: it hit), so the verdict follows from two
numbers side by side; then the answer as one expression:
`<think>7*12=84,84-3=81 vs 57 no\\n7+12=19,19*3=57 vs 57 yes</think>\\n<answer>(7+12)*3</answer>`.
The target is copied before the verdict is taken: in tiny-v2's format (`=81≠57 no`, `=57=57 yes`)
the relation came first, and after `=` copying the value reads the same as copying the target,
so the model decided by where the line stood and copied its own value (`=29=29 yes` for 46).
Where a line stands predicts nothing here: the number of misses is geometric (each line is the
hit with chance HIT_CHANCE), half the misses are near misses, a slip may hit any line.
`trace_with_slip` writes a trace in which one attempt slips (a wrong last operation, its
comparison true about the wrong value), then `wait ` and the attempt redone right: reflection in
miniature; `trace_with_check` follows a right line with `wait ` + that line unchanged.
The checker parses the answer with a safe parser (never eval); the step checker recomputes each
operation of a line, checks number use against the public numbers, and checks the comparison
and the verdict. Lines of the older formats (`...=81≠57 no`, `...=81 no`) still check.
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

_OP = re.compile(r"^(\d+)([-+*/])(\d+)=(\d+)(?:(≠|!=|=)(\d+))?$")  # tiny-v2's last op carried `≠T`/`=T`
_VERSUS = re.compile(r"^(.*)\s+vs\s+(\d+)$")  # `CHAIN vs T`: the comparison, before the verdict
HIT_CHANCE = 0.4  # each attempt line is the hit with this chance, whatever its position
MAX_MISSES = 5
NEAR_MISS = 0.5  # share of misses whose value is close to the target
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
    default_level = 3  # 3 numbers: tiny v3 gets 0.79 greedy, v2 0.24, v1 0.14 (model cards)
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
        return format_response(self._attempts(rng, problem), problem.answer)

    def trace_with_slip(self, problem: Problem, rng: random.Random) -> str:
        """A trace in which one attempt (a miss or the hit) slips in its last operation, so its
        comparison is true about the wrong value; then `wait ` and that attempt redone right."""
        lines = self._attempts(rng, problem)
        k = rng.randrange(len(lines))
        ops = _VERSUS.match(lines[k].rsplit(" ", 1)[0])[1].split(",")
        a, op, b, c = _OP.match(ops[-1]).groups()[:4]
        wrong = slip_value(rng, int(c), avoid=problem.meta["target"])
        slipped = ",".join(ops[:-1] + [f"{a}{op}{b}={wrong}"]) + f" vs {problem.meta['target']} no"
        return format_response(lines[:k] + [slipped, WAIT + lines[k]] + lines[k + 1 :], problem.answer)

    def trace_with_check(self, problem: Problem, rng: random.Random) -> str:
        """A trace in which `wait ` after a right line (a miss or the hit) confirms it: the line
        redone, verdict unchanged, so `wait` after a correct line is a check, not a fresh step."""
        lines = self._attempts(rng, problem)
        k = len(lines) - 1 if rng.random() < 0.5 else rng.randrange(len(lines))
        return format_response(lines[: k + 1] + [WAIT + lines[k]] + lines[k + 1 :], problem.answer)

    def _attempts(self, rng: random.Random, problem: Problem) -> list[str]:
        """Misses then the hit. The number of misses is geometric (each line is the hit with
        chance HIT_CHANCE whatever its position, up to MAX_MISSES misses), so where a line stands
        says nothing about its verdict; only the written comparison does."""
        numbers, target = problem.meta["numbers"], problem.meta["target"]
        lines: list[str] = []
        while len(lines) < MAX_MISSES and rng.random() >= HIT_CHANCE:
            lines.append(_miss(rng, numbers, target, problem.answer))
        return lines + [_verdict_line(problem)]

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
        vs = _VERSUS.match(chain)
        ops = (vs[1] if vs else chain).split(",")
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
        if vs and compared is None:  # `=25 vs 3`: the relation is the verdict's to state
            compared = ("=" if value == int(vs[2]) else "≠", int(vs[2]))
        elif vs:
            return False
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


def _miss(rng: random.Random, numbers: list[int], target: int, answer: str) -> str:
    """One attempt that misses, written with its comparison (`...=81 vs 57 no`). A share NEAR_MISS
    are near misses, whose value is close to the target (the closest of 8 random attempts, or
    the solution with its last operation changed): lines that look final but say no."""
    kind = rng.random()
    while True:
        if kind < NEAR_MISS / 2:
            tries = [random_attempt(rng, numbers, max_ops=len(numbers) - 1)[:2] for _ in range(8)]
            steps, value = min((t for t in tries if t[1] != target), key=lambda t: abs(t[1] - target), default=tries[0])
        elif kind < NEAR_MISS:
            steps, value = _changed_last_op(rng, _solution_steps(answer))
        else:
            steps, value, _ = random_attempt(rng, numbers, max_ops=len(numbers) - 1)
        if value != target and value is not None:
            return ",".join(steps) + f" vs {target} no"
        kind = 1.0  # fall back to a plain random attempt


def _changed_last_op(rng: random.Random, steps: list[str]) -> tuple[list[str], int | None]:
    """The solution's operations with another operator in the last one (None if none applies)."""
    a, op, b, _ = _OP.match(steps[-1]).groups()[:4]
    a, b = int(a), int(b)
    others = [o for o in "+-*/" if o != op and apply(a, o, b) is not None]
    if not others:
        return steps, None
    o = rng.choice(others)
    return steps[:-1] + [f"{a}{o}{b}={apply(a, o, b)}"], apply(a, o, b)


def _verdict_line(problem: Problem) -> str:
    """The right attempt with its comparison: `3+12=15,15*3=45 vs 45 yes`."""
    target = problem.meta["target"]
    return ",".join(_solution_steps(problem.answer)) + f" vs {target} yes"


def verdict_lines(problem: Problem, response: str) -> list[bool]:
    """For every line of a response that ends in yes/no: is the verdict right about the value
    the line actually reached (whatever its arithmetic)? The measure of learnable self-checks."""
    from ponder.steps import think_steps

    out = []
    for line in think_steps(response):
        m = re.match(r"^(.*) (yes|no)$", strip_wait(line))
        chain = (vs[1] if (vs := _VERSUS.match(m[1])) else m[1]) if m else ""
        last = _OP.match(chain.rsplit(",", 1)[-1].strip()) if m else None
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
