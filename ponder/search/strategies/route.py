"""Per-problem compute-optimal routing at solve time (after Snell et al. 2024, who choose the
strategy and budget per difficulty bin; they bin by an oracle or a verifier, here the bin comes
from the model's own agreement, which needs neither).

Budget N is the average per problem. First `probe` responses per problem (ONE call) estimate
difficulty as agreement = the leading answer's share of the probe (unparsed answers count
against it). Problems with agreement >= `easy` are done: their answer is the probe's majority.
The rest of the batch's budget, N x problems - probe x problems samples' worth, is shared out:
problems with agreement < `hard` get `hard_weight` shares each and are run with the strategy
`hard_strategy`, the others one share each with `medium_strategy` (defaults: majority voting
for the middle, where the model is often right; best-of-N with the run's scorer for the hard
ones, where voting just follows the wrong majority). Each routed group is one run of that
strategy on those problems through a view of the context, so costs stay per problem. A routed
problem gets at least one sample's worth, so a batch of all-hard problems can spend a little
over N x problems. The probe's samples are spent but not reused by the routed strategy.
Left out: learning the bins or the allocation from data (the thresholds are options).
"""

from __future__ import annotations

from collections import Counter

from ponder.answers import answer_of
from ponder.search import STRATEGIES
from ponder.search.calls import MAX_TOKENS, TEMPERATURE, call_seed, sample_responses
from ponder.search.engine import SearchContext
from ponder.search.forest import Forest
from ponder.search.strategies.majority import vote_pick
from ponder.types import Completion, Pick, PonderError, Problem


def agreement(answers: list[str | None]) -> float:
    """The leading parsed answer's share of all answers (N,) -> (); 0 when none parsed."""
    counts = Counter(a for a in answers if a is not None)
    return max(counts.values()) / len(answers) if counts else 0.0


def shares(n_medium: int, n_hard: int, total: int, hard_weight: float) -> tuple[int, int]:
    """Per-problem budgets (medium, hard) that spend `total` samples' worth, at least 1 each."""
    units = n_medium + hard_weight * n_hard
    if units <= 0:
        return 1, 1
    unit = total / units
    return max(1, int(unit)), max(1, int(unit * hard_weight))


@STRATEGIES.register("route")
def route(
    problems: list[Problem],
    ctx: SearchContext,
    *,
    budget: int,
    seed: int,
    probe: int = 4,
    easy: float = 0.75,
    hard: float = 0.5,
    hard_weight: float = 1.0,
    medium_strategy: str = "majority",
    hard_strategy: str = "best_of_n",
    temperature: float = TEMPERATURE,
    max_tokens: int = MAX_TOKENS,
) -> list[Pick]:
    if probe < 1 or not 0 <= hard <= easy <= 1 or hard_weight < 0:
        raise PonderError(
            f"route needs probe >= 1, 0 <= hard <= easy <= 1, hard_weight >= 0; got {probe}, {hard}, {easy}"
        )
    runs = {name: STRATEGIES.get(name) for name in (medium_strategy, hard_strategy)}  # unknown names fail first
    probe = min(probe, budget)
    outs = sample_responses(problems, ctx, n=probe, temperature=temperature, max_tokens=max_tokens, seed=seed)
    agree = [agreement([answer_of(c.text, p.task) for c in g]) for p, g in zip(problems, outs)]
    medium = [i for i, a in enumerate(agree) if hard <= a < easy]
    hardest = [i for i, a in enumerate(agree) if a < hard]
    left = budget * len(problems) - probe * len(problems)
    b_medium, b_hard = shares(len(medium), len(hardest), left, hard_weight)
    forest = Forest(ctx, problems)
    picks: list[Pick | None] = [None] * len(problems)
    for i, group in enumerate(outs):
        if agree[i] >= easy:
            picks[i] = _probe_pick(forest, i, group, agree[i], "easy")
    for label, ids, name, b in (
        ("medium", medium, medium_strategy, b_medium),
        ("hard", hardest, hard_strategy, b_hard),
    ):
        if not ids or left <= 0:
            continue
        sub = runs[name]([problems[i] for i in ids], ctx.subset(ids), budget=b, seed=call_seed(seed, "route", label))
        for i, pk in zip(ids, sub):
            pk.meta.update(route=label, agreement=agree[i], routed_to=name, routed_budget=b)
            picks[i] = pk
    return [pk if pk is not None else _probe_pick(forest, i, outs[i], agree[i], "probe") for i, pk in enumerate(picks)]


def _probe_pick(forest: Forest, i: int, group: list[Completion], agree: float, label: str) -> Pick:
    """The probe's majority: an easy problem's answer, or a routed one's when no budget is left."""
    return vote_pick(forest, i, group, route=label, agreement=agree)
