"""Multi-step integer arithmetic with operator precedence and parentheses.

Question: `12+7*(30-4)=?`. Difficulty level L has L+1 operands (numbers 1-99; the right operand
of `*` is 2-9 so products stay short; parentheses from 3 operands up). Problems whose
intermediate results go negative are resampled, so every step stays in natural numbers.

The trace evaluates one operation per step, innermost parentheses first, `*` before `+ -`,
left to right, and rewrites the expression after each step:
`<think>30-4=26,12+7*26\\n7*26=182,12+182\\n12+182=194</think>\\n<answer>194</answer>`.
`trace_with_slip` writes a trace in which one step slips (a wrong result, carried into the
rewritten expression), and the next line is `wait ` + that step redone right: reflection in
miniature (training masks the slipped line, so the model learns to catch slips, not to make them).
`trace_with_check` writes `wait ` + a right step redone unchanged: a confirmation, so that a
forced `wait` after a finished trace leads to a check rather than a fresh step.
The step checker recomputes `a op b = c` and checks that the rewritten expression still has the
question's value (a calculator's check, which needs no reference answer).
"""

from __future__ import annotations

import random
import re

from ponder.steps import WAIT, parse_response, step_body, strip_wait
from ponder.tasks import TASKS
from ponder.tasks.expr import ExprError, evaluate, fmt
from ponder.tasks.task import format_response
from ponder.types import Problem, Score

_STEP = re.compile(r"^(\d+)([-+*])(\d+)=(-?\d+)(?:,(.+))?$")
_QUESTION = re.compile(r"^\s*(?:compute:?\s*)?([\d\s+\-*()×]+?)\s*(?:=\s*\??)?\s*$", re.IGNORECASE)


def _render(tokens: list) -> str:
    return "".join(str(t) for t in tokens)


def _sample_tokens(rng: random.Random, n_operands: int) -> list:
    ops = [rng.choices("+-*", weights=(4, 3, 3))[0] for _ in range(n_operands - 1)]
    nums = [rng.randint(1, 99)]
    for op in ops:
        nums.append(rng.randint(2, 9) if op == "*" else rng.randint(1, 99))
    tokens: list = [nums[0]]
    for op, num in zip(ops, nums[1:]):
        tokens += [op, num]
    if n_operands >= 3 and rng.random() < 0.5:
        start = rng.randrange(n_operands - 1)
        end = rng.randrange(start + 1, n_operands)
        if end - start < n_operands - 1:
            tokens.insert(2 * end + 1, ")")
            tokens.insert(2 * start, "(")
    return tokens


def reduce_once(tokens: list, result: int | None = None) -> tuple[str, list]:
    """One evaluation step: (`a op b=c`, rewritten token list). Innermost parentheses first,
    then `* /` before `+ -`, left to right. `result` replaces c (a slip, for reflection traces)."""
    close = tokens.index(")") if ")" in tokens else len(tokens)
    open_ = max((i for i in range(close) if tokens[i] == "("), default=-1)
    lo, hi = open_ + 1, close
    span = tokens[lo:hi]
    idx = next((i for i, t in enumerate(span) if t in ("*", "/")), None)
    if idx is None:
        idx = next(i for i, t in enumerate(span) if t in ("+", "-"))
    a, op, b = span[idx - 1], span[idx], span[idx + 1]
    c = {"+": a + b, "-": a - b, "*": a * b, "/": a // b if b else 0}[op]  # "/" only from countdown (exact)
    c = c if result is None else result
    new = tokens[: lo + idx - 1] + [c] + tokens[lo + idx + 2 :]
    if open_ >= 0 and new[open_ + 2] == ")":  # "(c)" -> "c"
        new = new[:open_] + [c] + new[open_ + 3 :]
    return f"{a}{op}{b}={c}", new


def solve_steps(tokens: list) -> tuple[list[str], int]:
    steps = []
    while len(tokens) > 1:
        text, tokens = reduce_once(tokens)
        steps.append(text + ("," + _render(tokens) if len(tokens) > 1 else ""))
    return steps, tokens[0]


def _problem(question_expr: str, level: int) -> Problem:
    value = evaluate(question_expr).value
    return Problem(
        id="",
        task="arithmetic",
        question=f"{question_expr}=?",
        answer=fmt(value),
        meta={"level": level, "expression": question_expr},
    )


@TASKS.register("arithmetic")
class Arithmetic:
    name = "arithmetic"
    levels = (1, 2, 3, 4, 5)
    train_levels = (1, 2, 3, 4)
    default_level = 3  # 4 operands: tiny v3 gets 0.795 greedy, v2 0.445, v1 0.29 (model cards)
    reference_free = False

    def sample(self, rng: random.Random, level: int) -> Problem:
        while True:
            tokens = _sample_tokens(rng, level + 1)
            steps, value = solve_steps(list(tokens))
            if all(not re.search(r"=-", s) for s in steps) and value >= 0:
                return _problem(_render(tokens), level)

    def trace(self, problem: Problem, rng: random.Random) -> str:
        tokens = [int(t) if t.isdigit() else t for t in re.findall(r"\d+|\S", problem.meta["expression"])]
        steps, value = solve_steps(tokens)
        return format_response(steps, str(value))

    def trace_with_slip(self, problem: Problem, rng: random.Random) -> str:
        """A trace with one slipped step, then `wait ` and that step redone right."""
        from ponder.tasks.countdown import slip_value

        tokens = [int(t) if t.isdigit() else t for t in re.findall(r"\d+|\S", problem.meta["expression"])]
        steps, value = solve_steps(list(tokens))
        k = rng.randrange(len(steps))
        for _ in range(k):
            _, tokens = reduce_once(tokens)
        right, _ = reduce_once(tokens)
        text, slipped = reduce_once(tokens, result=slip_value(rng, int(right.split("=")[1])))
        slip = text + ("," + _render(slipped) if len(slipped) > 1 else "")
        return format_response(steps[:k] + [slip, WAIT + steps[k]] + steps[k + 1 :], str(value))

    def trace_with_check(self, problem: Problem, rng: random.Random) -> str:
        """A trace in which `wait ` after a right step (half the time the last) confirms it: the
        step redone unchanged, so `wait` after a correct line is a check, not a fresh step."""
        tokens = [int(t) if t.isdigit() else t for t in re.findall(r"\d+|\S", problem.meta["expression"])]
        steps, value = solve_steps(tokens)
        k = len(steps) - 1 if rng.random() < 0.5 else rng.randrange(len(steps))
        return format_response(steps[: k + 1] + [WAIT + steps[k]] + steps[k + 1 :], str(value))

    def check(self, problem: Problem, response: str) -> Score:
        answer = parse_response(response).answer
        if answer is None:
            return Score(0.0, parsed=False, reason="no <answer> tag")
        ok = answer.strip() == problem.answer
        return Score(float(ok), reason="correct" if ok else f"expected {problem.answer}", extracted=answer)

    def check_step(self, problem: Problem, step: str) -> bool | None:
        body = strip_wait(step_body(step))
        if not body or "<answer>" in body:
            return None
        m = _STEP.match(body)
        if not m:
            return False
        a, op, b, c, rest = int(m[1]), m[2], int(m[3]), int(m[4]), m[5]
        if {"+": a + b, "-": a - b, "*": a * b}[op] != c:
            return False
        target = evaluate(problem.meta["expression"]).value
        try:
            return evaluate(rest if rest else str(c), allow_unary=True).value == target
        except ExprError:
            return False

    def parse(self, text: str) -> Problem | None:
        m = _QUESTION.match(text)
        if not m or not any(op in m[1] for op in "+-*×"):
            return None
        expr = re.sub(r"\s+", "", m[1]).replace("×", "*")
        try:
            evaluate(expr)
        except ExprError:
            return None
        level = max(1, min(5, len(re.findall(r"\d+", expr)) - 1))
        p = _problem(expr, level)
        return Problem(id="input", task=p.task, question=p.question, answer=p.answer, meta=p.meta)
