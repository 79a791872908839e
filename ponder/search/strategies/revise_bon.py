"""Sequential revisions combined with best-of-N (Snell et al. 2024, "Scaling LLM Test-Time
Compute Optimally can be More Effective than Scaling Model Parameters", section 6: the hybrid of
a revision model's chains with parallel sampling).

Budget N, `rounds` R: N // R independent chains per problem (at least one). Round 1 samples each
chain's first attempt; round k asks the model again with the question and the chain's last
`context` attempts in the prompt (the format of parallel_aggregate: answers only or whole
traces), so each attempt can revise the earlier ones. All attempts of all chains are then scored
by the outcome scorer in ONE call and the best one is returned (`pick="best"`), or the answer
whose attempts' scores sum highest (`pick="vote"`; Snell's "weighted best-of-N"). One generator
call per round for all chains of all problems. Snell's revision model was fine-tuned to revise;
the shipped tiny reasoner was not, so its revisions are the unseen-format case (docs/search.md).
Left out: Snell's selection of the ratio R per difficulty (see the `route` strategy).
"""

from __future__ import annotations

from ponder.answers import answer_of
from ponder.search import STRATEGIES
from ponder.search.aggregate import vote
from ponder.search.calls import MAX_TOKENS, TEMPERATURE, call_seed, sample_responses
from ponder.search.engine import SearchContext
from ponder.search.forest import Forest
from ponder.search.strategies.parallel_aggregate import SHOW, candidates_prompt
from ponder.types import Completion, Pick, PonderError, Problem, SamplingParams, Step

PICKS = ("best", "vote")


def _revise(
    ctx: SearchContext, problems: list[Problem], chains: list[list[list[Completion]]], show: str, context: int, params
) -> None:
    """One revision round: every chain of every problem gets one more attempt (ONE call)."""
    owners, prompts, where = [], [], []
    for i, (p, cs) in enumerate(zip(problems, chains)):
        for c, chain in enumerate(cs):
            texts = [a.text for a in chain[-context:]]
            prompts.append(ctx.gen.render(candidates_prompt(p.question, texts, show, context, p.task)))
            owners.append(i)
            where.append((i, c))
    for (i, c), group in zip(where, ctx.generate(prompts, params, owners=owners)):
        chains[i][c].append(group[0])


@STRATEGIES.register("revise_bon")
def revise_bon(
    problems: list[Problem],
    ctx: SearchContext,
    *,
    budget: int,
    seed: int,
    rounds: int = 4,
    context: int = 2,
    show: str = "traces",
    pick: str = "best",
    agg: str = "min",
    temperature: float = TEMPERATURE,
    max_tokens: int = MAX_TOKENS,
) -> list[Pick]:
    if rounds < 1 or context < 1 or show not in SHOW or pick not in PICKS:
        raise PonderError(
            f"revise_bon needs rounds, context >= 1, show in {SHOW}, pick in {PICKS}; "
            f"got {rounds}, {context}, {show!r}, {pick!r}"
        )
    rounds = min(rounds, budget)
    n_chains = max(1, budget // rounds)
    first = sample_responses(problems, ctx, n=n_chains, temperature=temperature, max_tokens=max_tokens, seed=seed)
    chains = [[[c] for c in group] for group in first]
    for k in range(1, rounds):
        params = SamplingParams(n=1, temperature=temperature, max_tokens=max_tokens, seed=call_seed(seed, "revise", k))
        _revise(ctx, problems, chains, show, context, params)
    attempts = [[a for chain in cs for a in chain] for cs in chains]
    flat = [(i, a) for i, group in enumerate(attempts) for a in group]
    scores = ctx.score([problems[i] for i, _ in flat], [Step.of(a) for _, a in flat], [i for i, _ in flat], agg=agg)
    forest, k = Forest(ctx, problems), 0
    picks = []
    for i, group in enumerate(attempts):
        s = scores[k : k + len(group)]
        k += len(group)
        forest.add_samples(i, group, s)
        pool = range(len(group))
        if pick == "vote":
            answers = [answer_of(a.text, problems[i].task) for a in group]
            winner, _ = vote(answers, s)
            pool = [j for j in pool if answers[j] == winner] or list(pool)
        best = max(pool, key=lambda j: (s[j], -j))
        picks.append(forest.pick(i, 1 + best, chains=n_chains, rounds=rounds))
    return picks
