"""Votes follow the prompt format: run_search reads answers in the generator's format's style
(answers.answering), so majority over `plain` responses counts their last numbers."""

from __future__ import annotations

from ponder.answers import answer_of, answering
from ponder.gen.fake import FakeGenerator
from ponder.prompts import get_prompt
from ponder.search import run_search
from ponder.tasks import make_problems


class Formatted(FakeGenerator):
    """A fake generator that says it renders in a prompt format (as PromptedGenerator does)."""

    def __init__(self, texts, fmt):
        super().__init__(texts)
        self.format = get_prompt(fmt)


def test_majority_over_plain_responses_votes_on_last_numbers():
    texts = ["so it is 7", "I get 5", "that makes 7"]
    problems = make_problems("arithmetic", 1)
    plain = run_search("majority", problems, Formatted(texts, "plain"), budget=3)[0]
    assert plain.answer == "7"
    r1 = run_search("majority", problems, Formatted(texts, "r1"), budget=3)[0]
    assert r1.answer is None  # the R1 rules find no marked answer: nothing guessed
    assert answer_of("so it is 7") is None
    with answering("free"):
        assert answer_of("so it is 7") == "7"
    assert answer_of("so it is 7") is None  # the style ends with the block
