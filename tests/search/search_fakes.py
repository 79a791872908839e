"""A scripted fake reasoner for the search tests: each question has a list of full responses;
sample i of a prompt continues one of the responses that extend the text so far, chosen by
(the prompt's own seed, prompt, i) at temperature > 0 and the first one at temperature 0."""

from __future__ import annotations

import random

from ponder.gen.fake import FakeGenerator
from ponder.types import Completion, Problem, SamplingParams

GOOD = "<think>2+3=5,5*4\n5*4=20</think>\n<answer>20</answer>"
BAD = "<think>2+3=6,6*4\n6*4=24</think>\n<answer>24</answer>"
BAD2 = "<think>2+3=5,5*4\n5*4=21</think>\n<answer>21</answer>"


def arithmetic_problem(pid: str = "p0", answer: str | None = "20") -> Problem:
    return Problem(
        id=pid,
        task="arithmetic",
        question="(2+3)*4=?",
        answer=answer,
        meta={"level": 2, "expression": "(2+3)*4"},
        info={"secret": "SECRET"},
    )


class ScriptedReasoner(FakeGenerator):
    def __init__(self, responses: list[str], **kwargs):
        self.responses = responses
        self._params = SamplingParams()
        super().__init__(self._continue, **kwargs)

    def _continue(self, prompt: str, i: int) -> str:
        prefix = prompt.partition("\n")[2]
        options = [r for r in self.responses if r.startswith(prefix)]
        if not options:
            return ""
        if self._params.greedy:
            return options[0][len(prefix) :]
        if i == 0:  # FakeGenerator asks for a prompt's samples in order, prompt by prompt
            self._seed = next(self._seeds)
        rng = random.Random(f"{self._seed}:{prompt}:{i}")
        return rng.choice(options)[len(prefix) :]

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        self._params = params
        self._seeds = iter(params.prompt_seeds(len(prompts)) or [None] * len(prompts))  # each prompt's own
        return super().generate(prompts, params)


def scripted(responses: list[str]) -> ScriptedReasoner:
    return ScriptedReasoner(responses)
