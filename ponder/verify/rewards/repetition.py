"""N-gram repetition penalty (Yeo et al. 2025, "Demystifying Long Chain-of-Thought Reasoning"):
    r = max_penalty · (1 − distinct n-grams / all n-grams)
over whitespace-separated words, so a response that loops earns up to `max_penalty` (< 0) and one
with no repeated n-gram earns 0. Responses shorter than n words earn 0. For the character-level
tiny reasoner (few spaces) use `unit="char"` to count character n-grams instead.
"""

from __future__ import annotations

from ponder.types import PonderError, Problem
from ponder.verify.rewards import REWARDS
from ponder.verify.rewards.contract import on_problems


def repetition_value(text: str, n: int, max_penalty: float, unit: str = "word") -> float:
    units = text.split() if unit == "word" else list(text)
    if len(units) < n:
        return 0.0
    grams = [tuple(units[i : i + n]) for i in range(len(units) - n + 1)]  # (len - n + 1,)
    return max_penalty * (1.0 - len(set(grams)) / len(grams))


@REWARDS.register("repetition")
def repetition(n: int = 3, max_penalty: float = -1.0, unit: str = "word"):
    if n < 1 or max_penalty > 0 or unit not in ("word", "char"):
        raise PonderError(
            f"repetition: need n >= 1, max_penalty <= 0, unit word|char; got {n}, {max_penalty}, {unit!r}"
        )

    @on_problems
    def repetition_reward(problems: list[Problem], responses: list[str]) -> list[float | None]:
        return [repetition_value(r, n, max_penalty, unit) for r in responses]

    return repetition_reward
