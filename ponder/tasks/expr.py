"""A safe evaluator for integer arithmetic expressions: + - * / and parentheses over exact
Fractions. Never `eval`: a recursive-descent parser with limits on length and nesting, so model
output cannot hang or crash it. Unary minus is allowed only where `allow_unary` says so.
Returns the value and the integer literals used (for Countdown's "each number once" rule).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

MAX_LEN = 500
MAX_DEPTH = 50
_TOKEN = re.compile(r"\s*(\d+|[-+*/()×÷])")


class ExprError(ValueError):
    """The text is not a valid expression (or divides by zero)."""


@dataclass
class Evaluated:
    value: Fraction
    numbers: list[int]


def tokenize(text: str) -> list[str]:
    if len(text) > MAX_LEN:
        raise ExprError(f"expression longer than {MAX_LEN} characters")
    tokens, pos, text = [], 0, text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ExprError(f"unexpected character {text[pos]!r} at {pos}")
        tok = m.group(1)
        tokens.append({"×": "*", "÷": "/"}.get(tok, tok))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[str], allow_unary: bool):
        self.t, self.i, self.numbers, self.allow_unary = tokens, 0, [], allow_unary

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise ExprError("unexpected end of expression")
        self.i += 1
        return tok

    def expr(self, depth: int) -> Fraction:
        value = self.term(depth)
        while self.peek() in ("+", "-"):
            op = self.take()
            rhs = self.term(depth)
            value = value + rhs if op == "+" else value - rhs
        return value

    def term(self, depth: int) -> Fraction:
        value = self.atom(depth)
        while self.peek() in ("*", "/"):
            op = self.take()
            rhs = self.atom(depth)
            if op == "/" and rhs == 0:
                raise ExprError("division by zero")
            value = value * rhs if op == "*" else value / rhs
        return value

    def atom(self, depth: int) -> Fraction:
        if depth > MAX_DEPTH:
            raise ExprError(f"nesting deeper than {MAX_DEPTH}")
        tok = self.take()
        if tok == "(":
            value = self.expr(depth + 1)
            if self.take() != ")":
                raise ExprError("missing ')'")
            return value
        if tok == "-" and self.allow_unary:
            return -self.atom(depth + 1)
        if tok.isdigit():
            if len(tok) > 12:
                raise ExprError("number too long")
            self.numbers.append(int(tok))
            return Fraction(int(tok))
        raise ExprError(f"unexpected {tok!r}")


def evaluate(text: str, allow_unary: bool = False) -> Evaluated:
    """Value and integer literals of `text`; raises ExprError on anything malformed."""
    tokens = tokenize(text)
    if not tokens:
        raise ExprError("empty expression")
    p = _Parser(tokens, allow_unary)
    value = p.expr(0)
    if p.peek() is not None:
        raise ExprError(f"unexpected {p.peek()!r} after the expression")
    return Evaluated(value=value, numbers=p.numbers)


def fmt(value: Fraction) -> str:
    """An exact value as text: `7`, `-3`, `5/2`."""
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
