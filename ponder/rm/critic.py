"""A generative verifier (LLM-as-judge with a critique): any Generator reads the question and a
response, writes a short critique, then a verdict; the score is the verdict's probability.

Two batched generator calls per scoring call: (1) the critique, greedy, cut at "Verdict:";
(2) after "...critique\\nVerdict:", a few greedy tokens whose first says yes or no. With
logprobs the score is P(yes) read from the verdict token (ponder.search.scorers.judge.p_yes: the
Generator protocol returns only the chosen token's logprob, so all other mass counts for the
other verdict); without logprobs it is 1 / 0, and 0.5 when the verdict is neither yes nor no.
The prompt never contains the reference answer. Registered in SCORERS as "critic".

This differs from search's "judge" scorer (one yes/no token, no critique) by thinking before
judging, as generative verifiers do (Zhang et al. 2024, "Generative Verifiers"). Left out:
sampling several critiques and averaging their verdicts (majority over critiques).
"""

from __future__ import annotations

from dataclasses import dataclass

from ponder.search import SCORERS
from ponder.search.scorers.judge import p_yes
from ponder.types import Generator, PonderError, Problem, SamplingParams

PROMPT = (
    "Check this solution.\nQuestion: {question}\nSolution: {response}\n"
    "Write a one-line critique, then 'Verdict: yes' if the final answer is correct or 'Verdict: no'.\nCritique:"
)
VERDICT = "Verdict:"


@dataclass
class Judgement:
    critique: str
    verdict: str
    score: float


def verdict_score(text: str, logprobs: list[float] | None) -> float:
    """P(yes) of a verdict continuation; 0.5 when it is neither yes nor no. Leading spaces are
    skipped in the logprobs only when tokens are characters (len(logprobs) == len(text)); other
    tokenizers fold the space into the verdict token."""
    word = text.strip().lower()
    if not word.startswith(("y", "n")):
        return 0.5
    if logprobs and len(logprobs) == len(text):
        logprobs = logprobs[len(text) - len(text.lstrip()) :]
    return p_yes(word, logprobs)


class Critic:
    def __init__(self, gen: Generator, max_critique_tokens: int = 96):
        self.gen = gen
        self.max_critique_tokens = max_critique_tokens
        self.n_params = gen.n_params
        self.tokens_scored = 0

    def _call(self, prompts: list[str], max_tokens: int, stop: tuple[str, ...]) -> list:
        outs = self.gen.generate(prompts, SamplingParams(n=1, temperature=0.0, max_tokens=max_tokens, stop=stop))
        self.tokens_scored += sum(g[0].prompt_tokens + len(g[0].token_ids) for g in outs)
        return [g[0] for g in outs]

    def judge(self, problems: list[Problem], responses: list[str]) -> list[Judgement]:
        if len(problems) != len(responses):
            raise PonderError(f"got {len(problems)} problems but {len(responses)} responses")
        if not problems:
            return []
        prompts = [self.gen.render(PROMPT.format(question=p.question, response=r)) for p, r in zip(problems, responses)]
        critiques = [c.text.removesuffix(VERDICT) for c in self._call(prompts, self.max_critique_tokens, (VERDICT,))]
        verdicts = self._call([p + c + "\n" + VERDICT for p, c in zip(prompts, critiques)], 8, ("\n",))
        return [
            Judgement(c.strip(), v.text.strip(), verdict_score(v.text, v.logprobs)) for c, v in zip(critiques, verdicts)
        ]

    def score(self, problems: list[Problem], responses: list[str]) -> list[float]:
        return [j.score for j in self.judge(problems, responses)]


@SCORERS.register("critic")
def critic(gen: Generator | None = None) -> Critic:
    if gen is None:
        raise PonderError("the 'critic' scorer needs a generator to judge with (get_scorer('critic', gen=...))")
    return Critic(gen)
