"""Parallel, then aggregate: sample `budget - 1` responses, then ONE more generation that reads
them and writes the final answer (the aggregation of "parallel thinking" systems and of
AggLM-style aggregators; also how ThinkBooster / OptiLLM's "mixture" approaches end).

The aggregation prompt is the question followed by the candidates: their final answers only
(`show="answers"`, default: short enough for a 512-token context) or their whole traces
(`show="traces"`, at most `max_shown` of them). Candidates without an answer are left out. The
aggregator's response is the result, whatever it says: there is no fallback to a vote, so a
model that cannot read the format shows up as a low score. The shipped tiny reasoner never saw
this format (it was trained on single problems), which docs/search.md reports with numbers.
Budget N: N - 1 candidates (at least one) plus the aggregation, whose prompt is charged as
prompt tokens. Two generator calls for all problems.
"""

from __future__ import annotations

from ponder.answers import answer_of
from ponder.search import STRATEGIES
from ponder.search.calls import MAX_TOKENS, TEMPERATURE, call_seed, sample_responses
from ponder.search.engine import SearchContext
from ponder.search.forest import Forest
from ponder.types import Pick, PonderError, Problem, SamplingParams

SHOW = ("answers", "traces")


def candidates_prompt(question: str, texts: list[str], show: str, max_shown: int, task: str | None = None) -> str:
    """The question followed by earlier responses (answers only, or whole traces)."""
    answers = [a for a in (answer_of(t, task) for t in texts) if a is not None]
    if show == "answers":
        return f"{question}\nCandidate answers: {', '.join(answers) if answers else 'none'}"
    traces = [t.strip() for t in texts if answer_of(t, task) is not None][:max_shown]
    shown = "\n".join(f"Candidate {k + 1}:\n{t}" for k, t in enumerate(traces)) or "No candidates."
    return f"{question}\n{shown}"


@STRATEGIES.register("parallel_aggregate")
def parallel_aggregate(
    problems: list[Problem],
    ctx: SearchContext,
    *,
    budget: int,
    seed: int,
    show: str = "answers",
    max_shown: int = 4,
    temperature: float = TEMPERATURE,
    max_tokens: int = MAX_TOKENS,
) -> list[Pick]:
    if show not in SHOW or max_shown < 1:
        raise PonderError(f"parallel_aggregate needs show in {SHOW} and max_shown >= 1; got {show!r}, {max_shown}")
    n = max(1, budget - 1)
    outs = sample_responses(problems, ctx, n=n, temperature=temperature, max_tokens=max_tokens, seed=seed)
    forest = Forest(ctx, problems)
    prompts = []
    for i, (p, group) in enumerate(zip(problems, outs)):
        forest.add_samples(i, group)
        prompts.append(ctx.gen.render(candidates_prompt(p.question, [c.text for c in group], show, max_shown, p.task)))
    params = SamplingParams(n=1, temperature=0.0, max_tokens=max_tokens, seed=call_seed(seed, "aggregate"))
    final = ctx.generate(prompts, params, owners=list(range(len(problems))))
    picks = []
    for i, group in enumerate(final):
        ref = forest.add(
            (i, 0),
            group[0].text,
            terminal=True,
            meta={"aggregate": True, "answer": answer_of(group[0].text, problems[i].task)},
        )
        picks.append(forest.pick(i, ref[1], candidates=n))
    return picks
