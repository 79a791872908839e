"""Self-refinement: answer, critique, revise — up to `budget - 1` revision rounds, all problems
of a round in ONE generator call.

`critic="scorer"`: the StepScorer (e.g. the executable step checker or a PRM) scores the current
response's steps; the first step under `threshold` is the critique; the revision keeps the steps
before it and samples a new continuation from there. A response whose steps all pass is kept.
`critic="self"`: the model critiques itself: the reflection prompt `REFLECTION` ("Wait! Maybe I
made some mistakes! I need to rethink from scratch.") is appended after its response and it
writes a new one; the last `<answer>` counts. Every round runs (the model is not asked whether to
stop). The first answer is greedy; revisions are sampled at `temperature`.
Left out: natural-language critiques fed back into the prompt (the tiny reasoner cannot read them).
"""

from __future__ import annotations

from ponder.answers import answer_of
from ponder.search import STRATEGIES
from ponder.search.calls import MAX_TOKENS, TEMPERATURE, call_seed, finish
from ponder.search.engine import SearchContext
from ponder.search.forest import Forest
from ponder.steps import split_response
from ponder.types import Pick, PonderError, Problem, Step

REFLECTION = "Wait! Maybe I made some mistakes! I need to rethink from scratch."
CRITICS = ("scorer", "self")


def first_bad_step(scores: list[float], threshold: float) -> int | None:
    """Index of the first step scoring below threshold, or None when all pass."""
    return next((j for j, s in enumerate(scores) if s < threshold), None)


def _critique(
    ctx: SearchContext, problems: list[Problem], traces: list[list[str]], live: list[int], threshold: float
) -> dict[int, list[str]]:
    """Problem index -> steps kept, for every live problem whose response has a bad step."""
    steps = [traces[i] or [Step("")] for i in live]
    scores = ctx.score_steps([problems[i] for i in live], steps, live)
    out = {}
    for i, st, sc in zip(live, steps, scores):
        bad = first_bad_step(sc, threshold)
        if bad is not None:
            out[i] = st[:bad]
    return out


@STRATEGIES.register("refine")
def refine(
    problems: list[Problem],
    ctx: SearchContext,
    *,
    budget: int,
    seed: int,
    critic: str = "scorer",
    threshold: float = 0.5,
    temperature: float = TEMPERATURE,
    max_tokens: int = MAX_TOKENS,
) -> list[Pick]:
    if critic not in CRITICS:
        raise PonderError(f"refine critic must be one of {CRITICS}, got {critic!r}")
    everyone = list(range(len(problems)))
    first = finish(ctx, [(i, "") for i in everyone], problems, temperature=0.0, seed=seed, max_tokens=max_tokens)
    forest = Forest(ctx, problems)
    current = [forest.add((i, 0), Step.of(c), meta={"round": 0})[1] for i, c in enumerate(first)]
    traces = [split_response(Step.of(c)) for c in first]
    live = everyone
    for rnd in range(1, budget):
        if critic == "self":
            kept = {i: traces[i] + [Step("\n" + REFLECTION + "\n", [])] for i in live}
        else:
            kept = _critique(ctx, problems, traces, live, threshold)
        live = sorted(kept)
        if not live:
            break
        outs = finish(
            ctx,
            [(i, "".join(kept[i])) for i in live],
            problems,
            temperature=temperature,
            seed=call_seed(seed, "refine", rnd),
            max_tokens=max_tokens,
        )
        for i, c in zip(live, outs):
            traces[i] = kept[i] + split_response(Step.of(c))
            text = "".join(traces[i])
            parent = current[i] if critic == "self" else 0
            added = text[len(forest.prefix((i, parent))) :] if critic == "self" else text
            current[i] = forest.add((i, parent), added, meta={"round": rnd, "kept_steps": len(kept[i])})[1]
    return [forest.pick(i, current[i], answer_seen=answer_of("".join(traces[i])) is not None) for i in everyone]
