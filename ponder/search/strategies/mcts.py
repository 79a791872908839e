"""Monte-Carlo tree search over reasoning steps (the textbook four phases; Kocsis & Szepesvari
2006 for UCT, Silver et al. 2017 for PUCT), run in waves across all problems at once.

Each wave, for every problem: *selection* descends from the root by UCT or PUCT (PUCT's prior
is the softmax over siblings of the policy's step logprob) to a leaf; *expansion* samples `k`
next actions — whole steps (`action="step"`) or fixed-token mini-steps (`action="tokens"`,
`chunk_tokens` e.g. 32 or 64) — for all problems' leaves in ONE generator call; *evaluation*
scores each new node with the StepScorer (`evaluate="scorer"`, path value aggregated by `agg`),
with one rollout to the end scored as an outcome (`evaluate="rollout"`, ONE call for all), or
the mean of both; *backpropagation* adds the value to every ancestor (Q is a running mean).
A selected finished leaf is re-backed-up without generating. The answer follows the most-visited
path (`final="visits"`), the best-valued finished leaf (`"value"`), or a majority vote over all
finished leaves, rollouts included (`"vote"`). A chosen path that has not reached an answer
when the waves run out is finished by one greedy completion (one call for all problems).

Budget N samples' worth -> waves: with rollouts each wave costs about k responses, so
ceil(N / k) waves; scorer-only waves cost k steps, so ceil(N * steps_per_sample / k) waves.
Left out: virtual loss / several selections per problem per wave, progressive widening.
"""

from __future__ import annotations

import math

from ponder.answers import answer_of
from ponder.search import STRATEGIES
from ponder.search.aggregate import puct, softmax, uct, vote
from ponder.search.calls import MAX_TOKENS, TEMPERATURE, call_seed, finish
from ponder.search.engine import SearchContext
from ponder.search.forest import Forest, NodeRef
from ponder.steps import STEP_DELIMITER
from ponder.types import Node, Pick, PonderError, Problem, Step

RULES, EVALS, FINALS, ACTIONS = (
    ("uct", "puct"),
    ("scorer", "rollout", "both"),
    ("visits", "value", "vote"),
    ("step", "tokens"),
)


def _kids(forest: Forest, ref: NodeRef) -> list[Node]:
    return [n for n in forest.children(ref) if not n.meta.get("rollout")]


def select(forest: Forest, i: int, rule: str, c: float) -> NodeRef:
    """Descend from problem i's root to a leaf (unexpanded or finished) by UCT / PUCT."""
    ref = (i, 0)
    while not forest.node(ref).terminal:
        kids = _kids(forest, ref)
        if not kids:
            return ref
        parent_n = forest.node(ref).visits
        if rule == "uct":
            best = max(kids, key=lambda n: uct(n.value * n.visits, n.visits, parent_n, c))
        else:
            best = max(kids, key=lambda n: puct(n.value * n.visits, n.visits, parent_n, n.prior or 0.0, c))
        ref = (i, best.id)
    return ref


def backup(forest: Forest, ref: NodeRef, value: float) -> None:
    """Add one visit with `value` to ref and all its ancestors (Q kept as a running mean)."""
    tree = forest.trees[ref[0]]
    node_id: int | None = ref[1]
    while node_id is not None:
        node = tree.nodes[node_id]
        node.visits += 1
        node.value += (value - node.value) / node.visits
        node_id = node.parent


def set_priors(forest: Forest, kids: list[NodeRef]) -> None:
    """Siblings' PUCT priors: softmax of their step logprobs (uniform when there are none)."""
    lps = [forest.node(r).meta.get("logprob") for r in kids]
    priors = softmax(lps) if all(lp is not None for lp in lps) else [1.0 / len(kids)] * len(kids)
    for r, p in zip(kids, priors):
        forest.node(r).prior = p


def evaluate_nodes(forest: Forest, kids: list[NodeRef], how: str, agg: str, seed: int, max_tokens: int) -> list[float]:
    """A value in [0, 1]-ish for every new node: step-scorer path value, rollout outcome, or both."""
    values: list[float] = []
    if how in ("scorer", "both"):
        forest.score(kids, agg)
        values = [forest.node(r).value for r in kids]
    if how in ("rollout", "both"):
        rolled = rollout(forest, kids, seed, max_tokens)
        values = rolled if not values else [(a + b) / 2 for a, b in zip(values, rolled)]
    return values


def rollout(forest: Forest, kids: list[NodeRef], seed: int, max_tokens: int) -> list[float]:
    """Finish every unfinished node once (ONE call), score whole responses (ONE call); rollouts
    are kept in the tree as finished leaves marked meta["rollout"]."""
    open_refs = [r for r in kids if not forest.node(r).terminal]
    comps = (
        finish(
            forest.ctx,
            [(i, forest.prefix((i, n))) for i, n in open_refs],
            forest.problems,
            temperature=TEMPERATURE,
            seed=seed,
            max_tokens=max(max_tokens - max(forest.tokens(r) for r in open_refs), 1),
        )
        if open_refs
        else []
    )
    ends = {r: Step.of(c) for r, c in zip(open_refs, comps)}
    texts = []
    for r in kids:
        path = forest.path_steps(r)
        text = path[0]
        for s in path[1:] + ([ends[r]] if r in ends else []):
            text = text + s
        texts.append(text)
    scores = forest.ctx.score([forest.problems[i] for i, _ in kids], texts, [i for i, _ in kids])
    for r, c, s in ((r, ends[r], s) for r, s in zip(kids, scores) if r in ends):
        forest.add(r, c, terminal=True, score=s, value=s, visits=1, meta={"rollout": True})
    return scores


def evaluate_and_backup(
    forest: Forest, kids: list[list[NodeRef]], how: str, agg: str, seed: int, max_tokens: int
) -> None:
    """Priors for each sibling group, values for all new nodes (batched), then backpropagation."""
    for group in kids:
        set_priors(forest, group)
    flat = [r for g in kids for r in g]
    for r, v in zip(flat, evaluate_nodes(forest, flat, how, agg, seed, max_tokens)):
        backup(forest, r, v)


def choose(forest: Forest, i: int, final: str) -> int | None:
    """The chosen node of problem i (see module docstring)."""
    nodes = forest.trees[i].nodes
    leaves = [n for n in nodes if n.terminal and n.id != 0]
    if final == "visits":
        ref = (i, 0)
        while _kids(forest, ref):
            ref = (i, max(_kids(forest, ref), key=lambda n: (n.visits, n.value)).id)
        if forest.node(ref).terminal or not leaves:
            return ref[1] if ref[1] != 0 else None
        below = [n for n in leaves if ref[1] in {p.id for p in forest.trees[i].path(n.id)}]
        return max(below or leaves, key=lambda n: n.value).id
    if not leaves:
        return None
    if final == "value":
        return max(leaves, key=lambda n: n.value).id
    answers = [answer_of(forest.trees[i].text(n.id)) for n in leaves]
    winner, _ = vote(answers)
    pool = [n for n, a in zip(leaves, answers) if a == winner] or leaves
    return max(pool, key=lambda n: n.value).id


def complete_chosen(forest: Forest, chosen: list[int | None], seed: int, max_tokens: int) -> list[int]:
    """Finish every chosen path that has not reached an answer with one greedy completion (ONE
    call for all problems), kept in the tree as a finished leaf marked meta["completion"]."""
    chosen = [0 if c is None else c for c in chosen]
    todo = [(i, c) for i, c in enumerate(chosen) if not forest.node((i, c)).terminal]
    if not todo:
        return chosen
    room = max(1, max_tokens - min(forest.tokens(r) for r in todo))
    comps = finish(
        forest.ctx,
        [(i, forest.prefix((i, c))) for i, c in todo],
        forest.problems,
        temperature=0.0,
        seed=call_seed(seed, "complete"),
        max_tokens=room,
    )
    for (i, c), comp in zip(todo, comps):
        chosen[i] = forest.add((i, c), Step.of(comp), terminal=True, meta={"completion": True})[1]
    return chosen


def n_waves(budget: int, k: int, evaluate: str, steps_per_sample: int) -> int:
    if evaluate == "scorer":
        return max(1, math.ceil(budget * steps_per_sample / k))
    return max(1, math.ceil(budget / k))


@STRATEGIES.register("mcts")
def mcts(
    problems: list[Problem],
    ctx: SearchContext,
    *,
    budget: int,
    seed: int,
    k: int = 3,
    rule: str = "puct",
    c: float = 1.0,
    evaluate: str = "scorer",
    final: str = "visits",
    action: str = "step",
    chunk_tokens: int = 32,
    agg: str = "mean",
    steps_per_sample: int = 4,
    temperature: float = TEMPERATURE,
    max_tokens: int = MAX_TOKENS,
) -> list[Pick]:
    if rule not in RULES or evaluate not in EVALS or final not in FINALS or action not in ACTIONS:
        raise PonderError(f"mcts options: rule in {RULES}, evaluate in {EVALS}, final in {FINALS}, action in {ACTIONS}")
    if k < 1 or chunk_tokens < 1 or steps_per_sample < 1:
        raise PonderError("mcts needs k >= 1, chunk_tokens >= 1 and steps_per_sample >= 1")
    forest = Forest(ctx, problems)
    forest.chunked = action == "tokens"
    stop = () if forest.chunked else (STEP_DELIMITER,)
    step_tokens = chunk_tokens if forest.chunked else 96
    waves = n_waves(budget, k, evaluate, steps_per_sample)
    for wave in range(waves):
        leaves = [select(forest, i, rule, c) for i in range(len(problems))]
        for r in leaves:
            if forest.node(r).terminal:  # a finished path selected again: re-back-up, no generation
                backup(forest, r, forest.node(r).value)
        frontier = [r for r in leaves if not forest.node(r).terminal]
        if frontier:
            kids = forest.expand(
                frontier,
                n=k,
                temperature=temperature,
                seed=call_seed(seed, "mcts", wave),
                max_tokens=max_tokens,
                max_step_tokens=step_tokens,
                stop=stop,
            )
            evaluate_and_backup(forest, kids, evaluate, agg, call_seed(seed, "rollout", wave), max_tokens)
    chosen = complete_chosen(forest, [choose(forest, i, final) for i in range(len(problems))], seed, max_tokens)
    return [forest.pick(i, chosen[i], waves=waves, nodes=len(forest.trees[i].nodes) - 1) for i in range(len(problems))]
