"""Language consistency (DeepSeek-R1, §2.3.3): the share of the reasoning's words written in the
target language, which R1 added to stop chains of thought from mixing languages.

"Language" is approximated by Unicode script, which is what mixing looks like in practice
(English reasoning drifting into Chinese): a run of letters counts as one word of its first
letter's script; CJK ideographs and kana count one word per character (they have no spaces).
Digits, symbols and LaTeX commands' backslashes are ignored. The reasoning is the `<think>` body
when there is one, else the whole response. A response with no letters gets None (not applicable).
Left out: telling apart languages that share a script (English vs French).
"""

from __future__ import annotations

import unicodedata

from ponder.steps import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN, parse_response
from ponder.types import PonderError, Problem
from ponder.verify.rewards import REWARDS
from ponder.verify.rewards.contract import on_problems

LANGUAGE_SCRIPTS = {
    "en": {"LATIN"}, "fr": {"LATIN"}, "de": {"LATIN"}, "es": {"LATIN"},
    "zh": {"CJK"}, "ja": {"CJK", "HIRAGANA", "KATAKANA"}, "ko": {"HANGUL"},
    "ru": {"CYRILLIC"}, "el": {"GREEK"}, "ar": {"ARABIC"},
}  # fmt: skip
TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)
_PER_CHARACTER = {"CJK", "HIRAGANA", "KATAKANA"}


def script_of(ch: str) -> str:
    """The Unicode script of a letter, as the first word of its character name (CJK, LATIN, ...)."""
    return unicodedata.name(ch, "UNKNOWN").split(" ")[0]


def script_words(text: str) -> list[str]:
    """The script of each word in `text` (see the module docstring for what a word is)."""
    out, in_word = [], False
    for ch in text:
        if not ch.isalpha():
            in_word = False
            continue
        script = script_of(ch)
        if script in _PER_CHARACTER:
            out.append(script)
            in_word = False
        elif not in_word:
            out.append(script)
            in_word = True
    return out


def language_share(text: str, scripts: set[str]) -> float | None:
    """Share of words in one of `scripts`; None when there are no words."""
    words = script_words(text)
    if not words:
        return None
    return sum(w in scripts for w in words) / len(words)


@REWARDS.register("language")
def language(target: str = "en"):
    if target not in LANGUAGE_SCRIPTS:
        raise PonderError(f"language reward: unknown target {target!r}; known: {', '.join(LANGUAGE_SCRIPTS)}")
    scripts = LANGUAGE_SCRIPTS[target]

    @on_problems
    def language_reward(problems: list[Problem], responses: list[str]) -> list[float | None]:
        out = []
        for r in responses:
            think = parse_response(r).think
            text = think if think is not None else r
            for tag in TAGS:
                text = text.replace(tag, " ")
            out.append(language_share(text, scripts))
        return out

    return language_reward
