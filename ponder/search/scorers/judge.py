"""LLM-as-judge / self-evaluation: any Generator is asked whether a step (or a whole response) is
correct and answers yes or no. With logprobs the score is P("yes"): exp(logprob) of the first
answer token when it says yes, and 1 - exp(logprob) when it says no (the Generator protocol
returns only the chosen token's logprob, so the rest of the mass is attributed to "yes" — an
upper bound, exact for a two-way choice). Without logprobs the score is 1 for yes, 0 otherwise.
All items of a call go to the judge in ONE batched greedy generator call.

With the tiny reasoner as its own judge the scores are not meaningful (it was never trained to
judge); the scorer exists so that any capable model plugs in, and its tokens count as scorer
compute. The prompt never contains the reference answer."""

from __future__ import annotations

import math

from ponder.search import SCORERS
from ponder.types import Generator, PonderError, Problem, SamplingParams

STEP_PROMPT = "{question}\n{trace}\nIs the last step above correct? Answer yes or no: "
RESPONSE_PROMPT = "{question}\n{trace}\nIs the answer above correct? Answer yes or no: "


def p_yes(text: str, logprobs: list[float] | None) -> float:
    """P(yes) from a judge's greedy answer and its first token's logprob."""
    says_yes = text.strip().lower().startswith("y")
    if not logprobs:
        return 1.0 if says_yes else 0.0
    p = math.exp(logprobs[0])
    return p if says_yes else 1.0 - p


class Judge:
    def __init__(self, gen: Generator):
        self.gen = gen
        self.n_params = gen.n_params
        self.tokens_scored = 0

    def _ask(self, prompts: list[str]) -> list[float]:
        if not prompts:
            return []
        outs = self.gen.generate(prompts, SamplingParams(n=1, temperature=0.0, max_tokens=3, logprobs=True))
        self.tokens_scored += sum(g[0].prompt_tokens + len(g[0].token_ids) for g in outs)
        return [p_yes(g[0].text, g[0].logprobs) for g in outs]

    def score_steps(self, problems: list[Problem], steps: list[list[str]]) -> list[list[float]]:
        prompts, shape = [], []
        for p, trace in zip(problems, steps):
            for k in range(len(trace)):
                prompts.append(self.gen.render(STEP_PROMPT.format(question=p.question, trace="".join(trace[: k + 1]))))
            shape.append(len(trace))
        flat, out, i = self._ask(prompts), [], 0
        for n in shape:
            out.append(flat[i : i + n])
            i += n
        return out

    def score(self, problems: list[Problem], responses: list[str]) -> list[float]:
        return self._ask(
            [self.gen.render(RESPONSE_PROMPT.format(question=p.question, trace=r)) for p, r in zip(problems, responses)]
        )


@SCORERS.register("judge")
def judge(gen: Generator | None = None) -> Judge:
    if gen is None:
        raise PonderError("the 'judge' scorer needs a generator to judge with (get_scorer('judge', gen=...))")
    return Judge(gen)
