"""Format rewards for the R1 response layout `<think>…</think>\\n<answer>…</answer>`.

`format`: 1.0 when the response is exactly that (optional whitespace around and between the two
blocks, each tag exactly once, in order, nothing outside), else 0.0. With `think_in_prompt=True`
the opening `<think>` is expected in the prompt, not the response. `tag_count`: 0.25 for each of
the four tags that appears exactly once (a dense signal early in training, as in open-r1).
Both scan linearly (str.count / find), never a backtracking regex over the whole text.
"""

from __future__ import annotations

from ponder.steps import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN
from ponder.types import Problem
from ponder.verify.rewards import REWARDS
from ponder.verify.rewards.contract import on_problems

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


@REWARDS.register("format")
def format_reward(think_in_prompt: bool = False):
    @on_problems
    def r1_format(problems: list[Problem], responses: list[str]) -> list[float | None]:
        return [float(is_r1_format(r, think_in_prompt)) for r in responses]

    return r1_format


@REWARDS.register("tag_count")
def tag_count(think_in_prompt: bool = False):
    @on_problems
    def tag_count_reward(problems: list[Problem], responses: list[str]) -> list[float | None]:
        return [tag_count_value(r, think_in_prompt) for r in responses]

    return tag_count_reward
