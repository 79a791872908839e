"""Answer text as the math verifier should read it: Unicode math to LaTeX, scientific notation to
exact numbers, invisible characters gone.

Models and data sets write `½`, `√2`, `∞`, `x²`, `ℵ₀`, `3×10⁶`, `−5` (a Unicode minus), `1e6`,
or start a file with a byte-order mark. math-verify reads LaTeX, and our exact fast path reads
plain numbers, so `normalize` rewrites these first: vulgar fractions to `\\frac{a}{b}`, `√x` /
`√(…)` to `\\sqrt{…}`, super/subscripts to `^{…}` / `_{…}`, Greek letters and symbols to their
LaTeX commands, `a e b` / `a×10^b` (whole answer only) to the exact decimal it stands for.

Left out: Unicode letters beyond the common math symbols, and `1e6` inside a larger expression
(there `e` may be Euler's number).
"""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction

_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\u00ad"), None)
_SYMBOLS = {
    "∞": r"\infty ", "π": r"\pi ", "ℵ": r"\aleph", "×": r"\times ", "÷": r"\div ", "·": r"\cdot ", "⋅": r"\cdot ",
    "−": "-", "–": "-", "≤": r"\le ", "≥": r"\ge ", "≠": r"\ne ", "±": r"\pm ", "∓": r"\mp ", "°": r"^{\circ}",
    "α": r"\alpha ", "β": r"\beta ", "γ": r"\gamma ", "δ": r"\delta ", "θ": r"\theta ", "λ": r"\lambda ",
    "μ": r"\mu ", "σ": r"\sigma ", "φ": r"\phi ", "ω": r"\omega ", "∈": r"\in ", "∪": r"\cup ", "∩": r"\cap ",
    "→": r"\to ", "∅": r"\emptyset ", "ℝ": r"\mathbb{R}", "ℤ": r"\mathbb{Z}", "ℕ": r"\mathbb{N}", "ℚ": r"\mathbb{Q}",
}  # fmt: skip
_SUPER = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾ⁿⁱ", "0123456789+-()ni")
_SUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉₊₋₍₎", "0123456789+-()")
_SUPER_RE = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾ⁿⁱ]+")
_SUB_RE = re.compile("[₀₁₂₃₄₅₆₇₈₉₊₋₍₎]+")
_SQRT_RE = re.compile(r"√\s*(\([^()]*\)|\{[^{}]*\}|\\?[A-Za-z]+|\d+(?:\.\d+)?)")
_SCI_RE = re.compile(
    r"^([+-]?\d+(?:\.\d+)?)\s*(?:[eE]\s*([+-]?\d+)|(?:\\times|\\cdot|\*|x)\s*10\s*\^\s*\{?\s*([+-]?\d+)\s*\}?)$"
)


def _vulgar_fraction(ch: str) -> str | None:
    """`½` -> `\\frac{1}{2}` (any Unicode vulgar fraction)."""
    parts = unicodedata.decomposition(ch).split()
    if len(parts) == 4 and parts[0] == "<fraction>" and parts[2] == "2044":
        num, den = chr(int(parts[1], 16)), chr(int(parts[3], 16))
        return rf"\frac{{{num}}}{{{den}}}"
    return None


def _exact_decimal(value: Fraction) -> str | None:
    """The finite decimal string of `value` (None if it has none, e.g. 1/3)."""
    if value.denominator == 1:
        return str(value.numerator)
    den, twos, fives = value.denominator, 0, 0
    while den % 2 == 0:
        den, twos = den // 2, twos + 1
    while den % 5 == 0:
        den, fives = den // 5, fives + 1
    if den != 1:
        return None
    places = max(twos, fives)
    scaled = abs(value.numerator) * 10**places // value.denominator
    digits = str(scaled).rjust(places + 1, "0")
    return ("-" if value < 0 else "") + f"{digits[:-places]}.{digits[-places:]}".rstrip("0").rstrip(".")


def scientific(text: str) -> str | None:
    """`1e6` / `1.5E-3` / `3\\times 10^{6}` (the whole text) as an exact decimal, else None."""
    m = _SCI_RE.match(text.strip())
    if not m or len(text) > 60:
        return None
    exponent = int(m.group(2) or m.group(3))
    if abs(exponent) > 300:
        return None
    return _exact_decimal(Fraction(m.group(1)) * Fraction(10) ** exponent)


def _script(mark: str, body: str) -> str:
    return mark + body if len(body) == 1 else mark + "{" + body + "}"  # x^2 as data sets write it


def normalize(text: str) -> str:
    """See the module docstring; ASCII LaTeX and plain numbers come back unchanged."""
    text = unicodedata.normalize("NFC", text.translate(_INVISIBLE)).strip()
    if text.isascii():
        return scientific(text) or text
    out = []
    for ch in text:
        out.append(_SYMBOLS.get(ch) or (_vulgar_fraction(ch) if unicodedata.category(ch) == "No" else None) or ch)
    text = "".join(out)
    text = re.sub(r"(\d)(\\frac)", r"\1+\2", text)  # 1½ -> 1+\frac{1}{2}
    text = _SUPER_RE.sub(lambda m: _script("^", m.group().translate(_SUPER)), text)
    text = _SUB_RE.sub(lambda m: _script("_", m.group().translate(_SUB)), text)
    text = _SQRT_RE.sub(lambda m: r"\sqrt{" + m.group(1).strip("{}") + "}", text)
    text = text.strip()
    return scientific(text) or text


_JUNK = frozenset('?"@#~;√`$')
_TRAILING_OPERATOR = tuple("+-*/^_=<>,|\\([{&")


def well_formed(text: str) -> bool:
    """Could `text` be a whole math answer? Brackets balance (`(`/`[` close with either `)` or
    `]`, so intervals like `[0, 1)` pass), braces and `\\{ \\}` balance, no trailing operator, none of
    `? " @ # ~ ; √ $` left over (LaTeX's `\\;` `\\$` and a matrix's `\\\\` are fine).
    math-verify would otherwise read the number at the front of junk like `6(>` as 6."""
    escaped = text.count("\\{") - text.count("\\}")
    for escape in ("\\\\", "\\{", "\\}", "\\left.", "\\right.", "\\;", "\\,", "\\!", "\\%", "\\$"):
        if escape == "\\\\" and "\\begin" in text:
            continue  # a row break inside a matrix
        text = text.replace(escape, " " if escape != "\\\\" else "?")
    if escaped or any(ch in _JUNK for ch in text):
        return False
    round_depth = curly = 0
    for ch in text:
        round_depth += (ch in "([") - (ch in ")]")
        curly += (ch == "{") - (ch == "}")
        if round_depth < 0 or curly < 0:
            return False
    stripped = text.rstrip()
    return round_depth == 0 and curly == 0 and not stripped.endswith(_TRAILING_OPERATOR)
