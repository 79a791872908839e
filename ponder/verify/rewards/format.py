"""Format rewards: does a response have the layout its prompt format asked for (ponder/prompts.py)?

`format`: for the R1 layout `<think>…</think>\\n<answer>…</answer>` (formats r1, r1-think, tiny)
1.0 when the response is exactly that (optional whitespace around and between the two blocks, each
tag exactly once, in order, nothing outside); for `boxed` a final non-empty `\\boxed{}`; for
`code` a closed fenced code block; for `plain` (style `free`) any non-empty text. The style is
read off each prompt (`style="auto"`, prompts.answer_style_of) or given. With `think_in_prompt=True`
(or a prompt that ends in `<think>`, the r1-think prefill) the opening `<think>` is expected in
the prompt, not the response. `tag_count`: 0.25 for each of
the four tags that appears exactly once (a dense signal early in training, as in open-r1).
Both scan linearly (str.count / find), never a backtracking regex over the whole text.
"""

from __future__ import annotations

import re
from typing import Any

from ponder.answers import last_boxed
from ponder.steps import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN
from ponder.types import PonderError, Problem
from ponder.verify.rewards import REWARDS
from ponder.verify.rewards.contract import completion_text, on_problems

STYLES = ("auto", "answer", "boxed", "code", "free")
_CLOSED_FENCE_RE = re.compile(r"```[^\n`]*\n.*?\n?```", re.DOTALL)

TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)


def is_r1_format(text: str, think_in_prompt: bool = False) -> bool:
    """Each tag once, in order, only whitespace outside and between the two blocks."""
    if think_in_prompt:
        text = THINK_OPEN + text
    if any(text.count(tag) != 1 for tag in TAGS):
        return False
    pos = [text.find(tag) for tag in TAGS]
    if pos != sorted(pos):
        return False
    before = text[: pos[0]]
    between = text[pos[1] + len(THINK_CLOSE) : pos[2]]
    after = text[pos[3] + len(ANSWER_CLOSE) :]
    answer = text[pos[2] + len(ANSWER_OPEN) : pos[3]]
    return not before.strip() and not between.strip() and not after.strip() and bool(answer.strip())


def tag_count_value(text: str, think_in_prompt: bool = False) -> float:
    """0.25 per R1 tag that occurs exactly once."""
    if think_in_prompt:
        text = THINK_OPEN + text
    return 0.25 * sum(text.count(tag) == 1 for tag in TAGS)


def has_format(text: str, style: str, think_in_prompt: bool = False) -> bool:
    """Whether `text` has the layout of answer style `style` (answer | boxed | code | free)."""
    if style == "boxed":
        boxed = last_boxed(text)
        return boxed is not None and bool(boxed.strip())
    if style == "code":
        return _CLOSED_FENCE_RE.search(text) is not None
    if style == "free":
        return bool(text.strip())
    return is_r1_format(text, think_in_prompt)


def _prompt_text(prompt: Any) -> str:
    if isinstance(prompt, list):  # a conversational prompt: its messages
        return "\n".join(str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in prompt)
    return str(prompt or "")


@REWARDS.register("format")
def format_reward(think_in_prompt: bool = False, style: str = "auto"):
    from ponder.prompts import answer_style_of

    if style not in STYLES:
        raise PonderError(f"format reward: style must be one of {', '.join(STYLES)}, got {style!r}")

    def format(prompts: list[Any], completions: list[Any], **columns: Any) -> list[float | None]:
        """1.0 when the response has the layout its prompt format asked for, else 0.0."""
        out: list[float | None] = []
        for prompt, completion in zip(list(prompts) or [""] * len(completions), completions):
            text = _prompt_text(prompt)
            s = answer_style_of(text) if style == "auto" else style
            prefilled = think_in_prompt or text.rstrip().endswith(THINK_OPEN)
            out.append(float(has_format(completion_text(completion), s, prefilled)))
        return out

    return format


@REWARDS.register("tag_count")
def tag_count(think_in_prompt: bool = False):
    @on_problems
    def tag_count_reward(problems: list[Problem], responses: list[str]) -> list[float | None]:
        return [tag_count_value(r, think_in_prompt) for r in responses]

    return tag_count_reward
