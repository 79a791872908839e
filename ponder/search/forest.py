"""Search state for a batch of problems, and the one place that creates tree nodes.

A Forest holds one Tree per problem plus the generated Step (text and logprobs) behind every
node, which it records itself whenever a node is added (`add`, `add_samples`, `expand`), so no
strategy keeps node data of its own. Two batched operations work on a frontier: grow every
frontier node by sampled next steps in ONE generator call, and score a set of nodes' paths in ONE
scorer call. A node's `score` is its own step's score; its `value` aggregates the scores along
its path (last / min / product / mean). `pick` hands a problem's tree and chosen node back to
the engine (ponder.types.Pick)."""

from __future__ import annotations

from typing import Any

from ponder.answers import answer_of
from ponder.search.aggregate import aggregate
from ponder.search.calls import MAX_STEP_TOKENS, grow
from ponder.search.engine import SearchContext
from ponder.search.tree import Tree
from ponder.steps import STEP_DELIMITER, split_response
from ponder.types import Completion, Node, Pick, Problem, Step

NodeRef = tuple[int, int]  # (problem index, node id)


class Forest:
    def __init__(self, ctx: SearchContext, problems: list[Problem]):
        self.ctx = ctx
        self.problems = problems
        self.trees = [Tree(ctx.prompt(p)) for p in problems]
        self._steps: list[dict[int, Step]] = [{} for _ in problems]
        self.chunked = False  # nodes are fixed-token chunks rather than whole steps (MCTS mini-steps)

    def add(self, ref: NodeRef, step: str, **fields: Any) -> NodeRef:
        """A new child of `ref` that appends `step` (a Step keeps its logprobs); `fields` are Node's."""
        i, parent = ref
        node_id = self.trees[i].add(parent, step, **fields)
        self._steps[i][node_id] = step if isinstance(step, Step) else Step(step)
        return (i, node_id)

    def add_samples(self, i: int, completions: list[Completion], scores: list[float] | None = None) -> None:
        """One finished child of problem i's root per sampled whole response (a flat tree)."""
        for j, c in enumerate(completions):
            self.add(
                (i, 0),
                Step.of(c),
                score=None if scores is None else scores[j],
                terminal=True,
                meta={"answer": answer_of(c.text), "finish": c.finish_reason, "tokens": len(c.token_ids)},
            )

    def pick(self, i: int, node_id: int | None, **meta: Any) -> Pick:
        """Problem i's tree with `node_id` as its answer (None: no answer found)."""
        return Pick(tree=self.trees[i].nodes, chosen=node_id, meta=dict(meta))

    def node(self, ref: NodeRef) -> Node:
        return self.trees[ref[0]].nodes[ref[1]]

    def children(self, ref: NodeRef) -> list[Node]:
        return self.trees[ref[0]].children(ref[1])

    def path(self, ref: NodeRef) -> list[Node]:
        return self.trees[ref[0]].path(ref[1])

    def path_steps(self, ref: NodeRef) -> list[Step]:
        i, node_id = ref
        return [self._steps[i][n.id] for n in self.trees[i].path(node_id)]

    def scored_steps(self, ref: NodeRef) -> list[Step]:
        """The path as the scorer sees it: its steps, or, when nodes are fixed-size chunks, the
        trace re-split into lines with an unfinished last line left out (if any line is whole)."""
        steps = self.path_steps(ref)
        if not self.chunked:
            return steps
        text = steps[0]
        for s in steps[1:]:
            text = text + s
        lines = split_response(text)
        whole = [s for s in lines if s.endswith(STEP_DELIMITER) or self.node(ref).terminal]
        return whole or lines or [text]

    def prefix(self, ref: NodeRef) -> str:
        return self.trees[ref[0]].text(ref[1])

    def tokens(self, ref: NodeRef) -> int:
        return self.node(ref).meta.get("tokens", 0)

    def expand(
        self,
        frontier: list[NodeRef],
        *,
        n: int,
        temperature: float,
        seed: int,
        max_tokens: int,
        max_step_tokens: int = MAX_STEP_TOKENS,
        stop: tuple[str, ...] = (STEP_DELIMITER,),
        token_stats: bool = False,
    ) -> list[list[NodeRef]]:
        """n children for every frontier node, from ONE generator call; children past
        max_tokens of trace are marked terminal (truncated). A step is capped at the room left
        under max_tokens (of the shortest trace in the call: one call has one cap), so --max-tokens
        holds at token granularity, not one whole step past it."""
        prefixes = [(i, self.prefix((i, nid))) for i, nid in frontier]
        if frontier:
            room = max_tokens - min(self.tokens(ref) for ref in frontier)
            max_step_tokens = max(1, min(max_step_tokens, room))
        grown = grow(
            self.ctx,
            prefixes,
            self.problems,
            n=n,
            temperature=temperature,
            seed=seed,
            max_step_tokens=max_step_tokens,
            stop=stop,
            token_stats=token_stats,
        )
        out = []
        for ref, group in zip(frontier, grown):
            kids = []
            for g in group:
                tokens = self.tokens(ref) + g.tokens
                lp = sum(g.step.logprobs) if g.step.logprobs else None
                meta = {"tokens": tokens, "logprob": lp}
                kids.append(self.add(ref, g.step, terminal=g.terminal or tokens >= max_tokens, meta=meta))
            out.append(kids)
        return out

    def score(self, refs: list[NodeRef], agg: str) -> None:
        """Score every path in ONE scorer call; sets node.score (last step) and node.value (agg)."""
        if not refs:
            return
        problems = [self.problems[i] for i, _ in refs]
        scores = self.ctx.score_steps(problems, [self.scored_steps(r) for r in refs], [i for i, _ in refs])
        for r, s in zip(refs, scores):
            node = self.node(r)
            node.score = s[-1] if s else None
            node.value = aggregate(s, agg)


def top_distinct(forest: Forest, refs: list[NodeRef], k: int) -> list[NodeRef]:
    """The k highest-valued nodes with distinct traces (first generated wins ties)."""
    seen, out = set(), []
    for r in sorted(refs, key=lambda r: -forest.node(r).value):
        text = forest.prefix(r)
        if text not in seen:
            seen.add(text)
            out.append(r)
        if len(out) == k:
            break
    return out
