"""Steps of a reasoning trace, and the R1 response format.

A response is `<think>STEP\\nSTEP\\n...STEP</think>\\n<answer>ANSWER</answer>`. Steps inside
`<think>` are separated by STEP_DELIMITER (one step per line by default). For step-level search
a "step" is whatever the generator produced up to and including the delimiter, i.e.
`stop=[STEP_DELIMITER]`; the closing `</think>` line and the `<answer>` line are steps too, so
prompt + "".join(steps) is always the full text. `split_steps` and `join_steps` are inverses.
`split_response` splits a generated `Step` and shares its logprobs out among the pieces.
(The answer search and eval vote on is `ponder.answers.answer_of`.)
"""

from __future__ import annotations

from dataclasses import dataclass

from ponder.types import Step

STEP_DELIMITER = "\n"
WAIT = "wait "  # a reflection line: `wait ` + the step redone, after a step that slipped
NOT_EQUAL = "≠"  # a written comparison that failed (tiny-v2's Countdown verdict lines: `=25≠3 no`)
VERSUS = " vs "  # a written comparison before its verdict (Countdown verdict lines: `=25 vs 3 no`)
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"


def split_steps(text: str, delimiter: str = STEP_DELIMITER) -> list[str]:
    """Split generated text into steps, each keeping its trailing delimiter (the last may lack it)."""
    if not text:
        return []
    parts = text.split(delimiter)
    steps = [p + delimiter for p in parts[:-1]]
    if parts[-1]:
        steps.append(parts[-1])
    return steps


def join_steps(steps: list[str]) -> str:
    return "".join(steps)


def is_final_step(step: str) -> bool:
    """A step that closes the answer ends the trace."""
    return ANSWER_CLOSE in step


def step_body(step: str) -> str:
    """The content of a step without tags and the delimiter, for step checkers."""
    for tag in (THINK_OPEN, THINK_CLOSE):
        step = step.replace(tag, "")
    return step.strip()


@dataclass
class ParsedResponse:
    think: str | None
    answer: str | None


def parse_response(text: str) -> ParsedResponse:
    """The `<think>` body and the last `<answer>` body of a response (None where absent)."""
    think = None
    if THINK_OPEN in text and THINK_CLOSE in text:
        start = text.index(THINK_OPEN) + len(THINK_OPEN)
        end = text.find(THINK_CLOSE, start)
        if end >= 0:
            think = text[start:end]
    return ParsedResponse(think=think, answer=_last_answer(text))


def _last_answer(text: str) -> str | None:
    """The body of the last `<answer>…</answer>` pair, as `re.findall` would pair them, in linear
    time (the regex is quadratic on hostile text such as 30,000 unclosed `<answer>` tags)."""
    pos, last = 0, None
    while (start := text.find(ANSWER_OPEN, pos)) >= 0:
        end = text.find(ANSWER_CLOSE, start + len(ANSWER_OPEN))
        if end < 0:
            break
        last = text[start + len(ANSWER_OPEN) : end]
        pos = end + len(ANSWER_CLOSE)
    return last.strip() if last is not None else None


def think_steps(text: str, delimiter: str = STEP_DELIMITER) -> list[str]:
    """The reasoning steps inside `<think>`, stripped, empty lines dropped."""
    think = parse_response(text).think
    if think is None:
        return []
    return [s.strip() for s in think.split(delimiter) if s.strip()]


def strip_wait(body: str) -> str:
    """A step body without its leading reflection marker (`wait 7*26=182` -> `7*26=182`)."""
    return body[len(WAIT) :].lstrip() if body.startswith(WAIT) else body


def slip_segments(response: str, delimiter: str = STEP_DELIMITER) -> list[tuple[str, bool]]:
    """Split a response into (text, trained) pieces: a step followed by a `wait` step that redoes
    it differently is a slip shown only so that the model learns to catch it, so it is not trained
    on (False; a `wait` step that repeats the step unchanged is a confirmation, and both are
    trained) — except a
    written comparison at its end (Countdown's ` vs 45 no`), which is true about the value the line
    reached and is what teaches a verdict to look at that value rather than at which line is last."""
    steps = split_steps(response, delimiter)
    out: list[tuple[str, bool]] = []
    for i, step in enumerate(steps):
        nxt = step_body(steps[i + 1]) if i + 1 < len(steps) else ""
        if not (nxt.startswith(WAIT) and strip_wait(nxt) != step_body(step) and not is_final_step(step)):
            out.append((step, True))
            continue
        if step.startswith(THINK_OPEN):  # keep `<think>` itself trained
            out.append((THINK_OPEN, True))
            step = step[len(THINK_OPEN) :]
        cut = max(step.rfind(NOT_EQUAL), step.rfind(VERSUS))
        out += [(step[:cut], False), (step[cut:], True)] if cut > 0 else [(step, False)]
    return out


def split_response(text: str) -> list[str]:
    """A response as steps. A Step's logprobs (and per-token stats) are shared out among its
    steps: exactly when there is one token per character, else in proportion to each step's
    characters (an approximation for multi-character tokens; the Generator protocol gives no
    token offsets)."""
    steps = split_steps(text, STEP_DELIMITER)
    if not isinstance(text, Step) or text.logprobs is None or not text:
        return steps
    n_tokens, n_chars = len(text.logprobs), len(text)
    out, start = [], 0
    for s in steps:
        end = start + len(s)
        a, b = round(start * n_tokens / n_chars), round(end * n_tokens / n_chars)
        cut = [None if v is None else v[a:b] for v in (text.logprobs, text.entropies, text.certainties)]
        out.append(Step(s, *cut))
        start = end
    return out
