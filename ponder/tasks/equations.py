"""Linear equations in one unknown with an integer solution.

Question: `Solve 3x+7=22`. Level 1: `ax+b=c`; 2: `ax+b=cx+d`; 3: `a(x+b)=c`; 4:
`a(x+b)+c=dx+e`. The trace moves terms one step per line and divides at the end:
`<think>3x=22-7\\n3x=15\\nx=15/3\\nx=5</think>\\n<answer>5</answer>`.
A linear-expression parser (numbers, `x`, + - * /, parentheses, `3x` and `3(x+1)` implicit
products; no eval) turns each side into coef*x + const over Fractions. The step checker accepts
a step when its equation has exactly the question's solution (equivalent equations), which needs
only the public question.
"""

from __future__ import annotations

import random
import re
from fractions import Fraction

from ponder.steps import parse_response, step_body
from ponder.tasks import TASKS
from ponder.tasks.task import format_response
from ponder.types import Problem, Score

Lin = tuple[Fraction, Fraction]  # (coefficient of x, constant)
_TOK = re.compile(r"\s*(\d+|x|[-+*/()])")
_QUESTION = re.compile(r"^\s*(?:solve:?\s*)?([-+*/()\dx\s]+=[-+*/()\dx\s]+?)\s*(?:for x)?\.?\s*$", re.IGNORECASE)


class _LinParser:
    def __init__(self, text: str):
        if len(text) > 200:
            raise ValueError("too long")
        self.t = _TOK.findall(text)
        if "".join(self.t) != re.sub(r"\s+", "", text):
            raise ValueError(f"bad characters in {text!r}")
        self.i = 0

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self) -> str:
        if self.i >= len(self.t):
            raise ValueError("unexpected end")
        self.i += 1
        return self.t[self.i - 1]

    def expr(self, depth: int = 0) -> Lin:
        sign = -1 if self.peek() == "-" and self.take() else 1
        c, k = self.term(depth)
        c, k = sign * c, sign * k
        while self.peek() in ("+", "-"):
            s = 1 if self.take() == "+" else -1
            c2, k2 = self.term(depth)
            c, k = c + s * c2, k + s * k2
        return c, k

    def term(self, depth: int) -> Lin:
        c, k = self.factor(depth)
        while self.peek() in ("*", "/", "x", "(") or (self.peek() or "").isdigit():
            op = self.take() if self.peek() in ("*", "/") else "*"
            c2, k2 = self.factor(depth)
            if op == "/":
                if c2 != 0 or k2 == 0:
                    raise ValueError("division by x or by zero")
                c, k = c / k2, k / k2
            elif c != 0 and c2 != 0:
                raise ValueError("not linear")
            else:
                c, k = c * k2 + c2 * k, k * k2
        return c, k

    def factor(self, depth: int) -> Lin:
        if depth > 20:
            raise ValueError("too deep")
        tok = self.take()
        if tok == "x":
            return Fraction(1), Fraction(0)
        if tok.isdigit():
            return Fraction(0), Fraction(int(tok))
        if tok == "(":
            v = self.expr(depth + 1)
            if self.take() != ")":
                raise ValueError("missing )")
            return v
        if tok == "-":
            c, k = self.factor(depth + 1)
            return -c, -k
        raise ValueError(f"unexpected {tok!r}")


def solve_equation(text: str) -> Fraction | None:
    """The unique solution of a linear equation in x, or None (malformed, none, or infinitely many)."""
    try:
        left, right = text.split("=")
        pl, pr = _LinParser(left), _LinParser(right)
        (a, b), (c, d) = pl.expr(), pr.expr()
        if pl.peek() is not None or pr.peek() is not None:
            return None
    except (ValueError, ZeroDivisionError):
        return None
    return None if a == c else (d - b) / (a - c)


def _coef(a: int) -> str:
    return {1: "", -1: "-"}.get(a, str(a))


def _side(c: int, k: int) -> str:
    """`cx+k` text, with the x term first and signs tidy."""
    if c == 0:
        return str(k)
    text = f"{_coef(c)}x"
    return text if k == 0 else f"{text}{'+' if k > 0 else '-'}{abs(k)}"


def _steps(a: int, b: int, c: int, d: int, x: int) -> list[str]:
    """Solve ax+b=cx+d: gather x on the left, constants on the right, divide."""
    steps = []
    if c != 0:
        steps.append(f"{_side(a - c, b)}={d}")
    if b != 0:
        steps.append(f"{_coef(a - c)}x={d}{'-' if b > 0 else '+'}{abs(b)}")
    steps.append(f"{_coef(a - c)}x={d - b}")
    if a - c != 1:
        steps.append(f"x={d - b}/{a - c}" if a - c != -1 else f"x=-({d - b})")
        steps.append(f"x={x}")
    return steps


@TASKS.register("equations")
class Equations:
    name = "equations"
    levels = (1, 2, 3, 4)
    train_levels = (1, 2, 3)
    default_level = 3
    reference_free = False

    def sample(self, rng: random.Random, level: int) -> Problem:
        x = rng.randint(-12, 12)
        nz = lambda lo, hi: rng.choice([v for v in range(lo, hi + 1) if v != 0])  # noqa: E731
        if level in (1, 2):
            a, b, c = nz(-9, 9), rng.randint(-30, 30), (nz(-9, 9) if level == 2 else 0)
            while a == c:
                c = nz(-9, 9)
            d = a * x + b - c * x
            question = f"{_side(a, b)}={_side(c, d)}"
            expanded = (a, b, c, d)
        else:
            a, p, e = nz(2, 9), rng.randint(-9, 9), (rng.randint(-20, 20) if level == 4 else 0)
            c = nz(-5, 5) if level == 4 else 0
            while a == c:
                c = nz(-5, 5)
            d = a * (x + p) + e - c * x
            inner = f"x{'+' if p >= 0 else '-'}{abs(p)}" if p else "x"
            lhs = f"{a}({inner})" + (f"{'+' if e > 0 else '-'}{abs(e)}" if e else "")
            question = f"{lhs}={_side(c, d)}"
            expanded = (a, a * p + e, c, d)
        meta = {"level": level, "equation": question, "expanded": list(expanded)}
        return Problem(id="", task="equations", question=f"Solve {question}", answer=str(x), meta=meta)

    def trace(self, problem: Problem, rng: random.Random) -> str:
        a, b, c, d = problem.meta["expanded"]
        steps = _steps(a, b, c, d, int(problem.answer))
        if problem.meta["level"] >= 3:  # expand the product first
            rhs = problem.meta["equation"].split("=")[1]
            steps.insert(0, f"{_side(a, b)}={rhs}")
        return format_response(steps, problem.answer)

    def check(self, problem: Problem, response: str) -> Score:
        answer = parse_response(response).answer
        if answer is None:
            return Score(0.0, parsed=False, reason="no <answer> tag")
        got = solve_equation(f"x={answer.strip().removeprefix('x=')}")
        if got is None:
            return Score(0.0, parsed=False, reason=f"answer {answer!r} is not a number", extracted=answer)
        ok = got == Fraction(problem.answer)
        return Score(float(ok), reason="correct" if ok else f"expected {problem.answer}", extracted=answer)

    def check_step(self, problem: Problem, step: str) -> bool | None:
        body = step_body(step)
        if not body or "<answer>" in body:
            return None
        truth = solve_equation(problem.meta["equation"])
        return truth is not None and solve_equation(body) == truth

    def parse(self, text: str) -> Problem | None:
        m = _QUESTION.match(text)
        if not m or "x" not in m[1]:
            return None
        equation = re.sub(r"\s+", "", m[1])
        x = solve_equation(equation)
        if x is None:
            return None
        meta = {"level": 0, "equation": equation}
        answer = str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"
        return Problem(id="input", task="equations", question=f"Solve {equation}", answer=answer, meta=meta)
