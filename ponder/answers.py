"""Final-answer extraction from a free-text response, in one documented order of preference:

1. the last complete `<answer>…</answer>` tag (a `\\boxed{}` inside it wins over the rest of it);
2. the last complete `\\boxed{…}` or `\\fbox{…}` (nested braces; `\\boxed 5` too);
3. GSM8K's last `#### n` line;
4. the last "the (final) answer is …" / "answer: …" phrase, up to the end of its sentence.

`answer_of(text, task)` is the one vote key built on these (search's votes and eval's pooled
votes); `extract_code` the program inside a response, for code tasks.

Nothing else: no "last number in the text" fallback, because it turns "could not find an answer"
into confident wrong answers. The extracted text is cleaned (`$…$`, `\\(…\\)`, trailing period,
`\\dfrac`); a plain number with thousands separators, a currency sign, a percent sign or a unit
word is reduced to the number (see `plain_number`). Every scan is linear in the response length
(no regex that can backtrack over the whole text), so hostile input cannot hang it.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from ponder.steps import parse_response

MAX_ANSWER_CHARS = 1000
_BOX_COMMANDS = ("\\boxed", "\\fbox")
_PHRASE_RE = re.compile(r"(?:final answer|the answer|answer)\s*(?:is|:|=)\s*:?\s*", re.IGNORECASE)
_GSM_RE = re.compile(r"####[ \t]*([^\n]{1,200})")
_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_THOUSANDS_RE = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_NUMBER_RE = re.compile(rf"^{_NUM}$")
_SLASH_FRAC_RE = re.compile(r"^([+-]?\d+)\s*/\s*(\d+)$")
_TEX_FRAC_RE = re.compile(r"^([+-]?)\\frac\s*(?:\{\s*([+-]?\d+)\s*\}|(\d))\s*(?:\{\s*(\d+)\s*\}|(\d))$")
_UNIT_TAIL_RE = re.compile(r"^(.*?\d\.?)\s*(?:\\(?:text|mbox|mathrm)\{[^{}]{0,40}\}|\s[A-Za-z][A-Za-z .]{0,40})$")
_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


@dataclass(frozen=True)
class Extracted:
    """An extracted answer: `text` cleaned, `raw` as found, `source` which rule found it."""

    text: str
    raw: str
    source: str  # answer_tag | boxed | gsm8k | phrase


def _last_answer_tag(text: str) -> str | None:
    end = text.rfind("</answer>")
    if end < 0:
        return None
    start = text.rfind("<answer>", 0, end)
    return None if start < 0 else text[start + len("<answer>") : end]


def _brace_matches(text: str) -> dict[int, int]:
    """Index of each '{' -> index of its matching '}' (unescaped), in one linear pass."""
    stack: list[int] = []
    match: dict[int, int] = {}
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "{}":
            i += 2
            continue
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            match[stack.pop()] = i
        i += 1
    return match


def _boxed_at(text: str, pos: int, cmd: str, match: dict[int, int]) -> str | None:
    """The argument of the box command starting at `pos`, or None if it is incomplete."""
    j = pos + len(cmd)
    if j < len(text) and text[j].isalpha():  # \boxedx is another command
        return None
    while j < len(text) and text[j] == " ":
        j += 1
    if j < len(text) and text[j] == "{":
        close = match.get(j)
        return None if close is None else text[j + 1 : close]
    m = re.match(r"[^\s$}]{1,100}", text[j : j + 100]) if j > pos + len(cmd) else None
    return m.group(0) if m else None


def last_boxed(text: str) -> str | None:
    """The content of the last complete `\\boxed{…}` / `\\fbox{…}` in `text`."""
    starts = sorted((p, cmd) for cmd in _BOX_COMMANDS for p in _find_all(text, cmd))
    if not starts:
        return None
    match = _brace_matches(text)
    for pos, cmd in reversed(starts):
        content = _boxed_at(text, pos, cmd, match)
        if content is not None:
            return content
    return None


def _find_all(text: str, needle: str) -> list[int]:
    out, i = [], text.find(needle)
    while i >= 0:
        out.append(i)
        i = text.find(needle, i + 1)
    return out


def _phrase_answer(text: str) -> str | None:
    last = None
    for m in _PHRASE_RE.finditer(text):
        last = m
    if last is None:
        return None
    tail = text[last.end() : last.end() + 300].split("\n", 1)[0]
    if tail.count("$") >= 2:
        first = tail.index("$")
        return tail[first : tail.index("$", first + 1) + 1]
    sentence = re.split(r"\.(?:\s|$)", tail, maxsplit=1)[0]
    return sentence.strip() or None


def clean_answer(text: str) -> str:
    """Strip math wrappers, a trailing period and LaTeX spacing; normalise \\dfrac / \\tfrac."""
    s = text.strip()
    for _ in range(3):
        for left, right in _WRAPPERS:
            if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
                s = s[len(left) : len(s) - len(right)].strip()
        s = s.rstrip(".").rstrip()
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("{,}", ",")
    s = s.replace("\\!", "").replace("\\,", "").replace("\\ ", " ").replace("\\%", "%")
    number = plain_number(s)
    if number is None:
        return s
    return number[0] + ("%" if number[2] else "")


def plain_number(text: str) -> tuple[str, Fraction, bool] | None:
    """A plain number (int, decimal, a/b, \\frac{a}{b}) with its decorations removed:
    (canonical text, exact value, had a percent sign), or None if `text` is anything else."""
    s = text.strip().replace("\\$", "").replace("$", "").replace("\\%", "%").strip()
    if len(s) > 60:
        return None
    unit = _UNIT_TAIL_RE.match(s)
    if unit:
        s = unit.group(1).strip()
    percent = s.endswith("%")
    s = s.rstrip("%").strip().rstrip(".") if percent else s.rstrip(".")
    if _THOUSANDS_RE.match(s):
        s = s.replace(",", "")
    if _NUMBER_RE.match(s):
        return s, Fraction(s), percent
    m = _SLASH_FRAC_RE.match(s)
    if m and int(m.group(2)) != 0:
        return f"{m.group(1)}/{m.group(2)}", Fraction(int(m.group(1)), int(m.group(2))), percent
    m = _TEX_FRAC_RE.match(s)
    if m:
        num, den = int(m.group(2) or m.group(3)), int(m.group(4) or m.group(5))
        if den != 0:
            value = Fraction(num, den) * (-1 if m.group(1) == "-" else 1)
            return f"{value.numerator}/{value.denominator}", value, percent
    return None


def _candidates(text: str):
    """The rules in order of preference, each as (source, raw answer or None), lazily."""
    tag = _last_answer_tag(text)
    if tag is not None:
        yield "answer_tag", last_boxed(tag) or tag
    yield "boxed", last_boxed(text)
    gsm = None
    for m in _GSM_RE.finditer(text):
        gsm = m.group(1)
    yield "gsm8k", gsm
    yield "phrase", _phrase_answer(text)


def extract(text: str) -> Extracted | None:
    """The final answer in `text` by the first rule that finds one, or None."""
    if not isinstance(text, str) or not text:
        return None
    for source, raw in _candidates(text):
        if raw is None:
            continue
        cleaned = clean_answer(raw)
        if cleaned and len(cleaned) <= MAX_ANSWER_CHARS:
            return Extracted(text=cleaned, raw=raw, source=source)
    return None


def extract_answer(text: str) -> str | None:
    """The cleaned final answer in `text`, or None when none can be found."""
    found = extract(text)
    return found.text if found else None


CODE_TASKS = ("humaneval", "mbpp")
_FENCE_RE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)


def extract_code(response: str, entry_point: str | None = None) -> str:
    """The program inside a response: the `<answer>` tag if present (else the whole response),
    then its fenced ```python block defining `entry_point` (else the last block), else all of it."""
    answer = parse_response(response).answer
    text = answer if answer else response
    blocks = _FENCE_RE.findall(text)
    if not blocks:
        return text.strip("\n")
    if entry_point:
        defining = [b for b in blocks if re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", b, re.MULTILINE)]
        if defining:
            return defining[-1]
    return blocks[-1]


_LAST_NUMBER_RE = re.compile(r"[+-]?\d[\d,]*(?:\.\d+)?")


def answer_in_style(text: str, style: str, task: str | None = None) -> str | None:
    """The final answer of a response written in a prompt format's answer style (prompts.py):
    `answer` / `boxed` by the rules above (tags first, then boxed), `code` the program, `free`
    (the `plain` format, which asks for no marker) by the rules above, else the last number of
    the last non-empty line, else that line. Only `free` guesses: it is the format that asked for
    nothing else."""
    if style == "code" or task in CODE_TASKS:
        return extract_code(text) or None
    if style == "boxed":
        boxed = last_boxed(text)
        if boxed is not None:
            return clean_answer(boxed) or None
    found = extract_answer(text) if isinstance(text, str) else None
    if found is not None or style != "free" or not isinstance(text, str):
        return found
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return None
    numbers = _LAST_NUMBER_RE.findall(lines[-1][-MAX_ANSWER_CHARS:])
    return clean_answer(numbers[-1]) if numbers else clean_answer(lines[-1][:MAX_ANSWER_CHARS]) or None


def answer_of(text: str, task: str | None = None) -> str | None:
    """The final answer of a response as a vote key, whitespace-normalised, read from the response
    alone (never from a verifier's verdict, which would leak the reference): the `<answer>` body,
    else `extract_answer` (boxed, ####, "the answer is"); for code tasks the program. None:
    nothing to vote on. Every vote uses it: search's majority / weighted / beam / MCTS and eval's
    pooled majority and weighted votes, so strategies of one name agree on what an answer is."""
    style = _STYLE.get()
    if style in ("boxed", "free"):  # a prompt format's own marker (answering below)
        answer = answer_in_style(text, style, task)
    elif task in CODE_TASKS:
        answer = extract_code(text)
    else:
        answer = parse_response(text).answer or extract_answer(text)
    return " ".join(answer.split()) if answer else None


_STYLE: contextvars.ContextVar[str | None] = contextvars.ContextVar("ponder_answer_style", default=None)


@contextlib.contextmanager
def answering(style: str | None) -> Iterator[None]:
    """Inside this block `answer_of` reads answers in a prompt format's style (prompts.py: answer |
    boxed | code | free): run_search and eval's pool set it from the generator's prompt format, so
    votes over `plain` responses count their last number. None: the default rules."""
    token = _STYLE.set(style)
    try:
        yield
    finally:
        _STYLE.reset(token)
