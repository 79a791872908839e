"""Budget forcing (Muennighoff et al. 2025, s1): control how long the model thinks.

`mode="cap"`: thinking stops at `think_tokens` tokens (default: budget x `tokens_per_sample`),
and `</think>\\n<answer>` is forced so the model answers now. `mode="wait"`: whenever the model
closes its thinking early, `</think>` is suppressed and `wait_text` ("Wait") appended so it
thinks longer — `budget - 1` times — within the same token cap (a phase runs for all problems
still thinking in one call, with the smallest room left among them, so none passes its cap). Then the answer is forced the
same way. One generator call per thinking phase for all problems still thinking, and one for
all answers. Decoding is greedy unless `temperature` > 0.
"""

from __future__ import annotations

from ponder.search import STRATEGIES
from ponder.search.common import call_seed, result
from ponder.search.engine import SearchContext
from ponder.search.tree import Tree
from ponder.steps import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE
from ponder.types import PonderError, Problem, SamplingParams, SearchResult

MODES = ("cap", "wait")


def _think(
    ctx: SearchContext,
    problems: list[Problem],
    trees: list[Tree],
    heads: list[int],
    live: list[int],
    room: list[int],
    temperature: float,
    seed: int,
) -> list[int]:
    """One thinking phase for the live problems; returns those that closed `</think>` themselves."""
    prompts = [ctx.prompt(problems[i]) + trees[i].text(heads[i]) for i in live]
    n_max = min(room[i] for i in live)  # one call for all; nobody may pass their cap
    outs = ctx.generate(
        prompts,
        SamplingParams(n=1, temperature=temperature, max_tokens=n_max, stop=(THINK_CLOSE,), seed=seed),
        owners=live,
    )
    closed = []
    for i, group in zip(live, outs):
        c = group[0]
        text = c.text
        room[i] -= len(c.token_ids)
        ended = text.endswith(THINK_CLOSE)
        heads[i] = trees[i].add(
            heads[i], text[: -len(THINK_CLOSE)] if ended else text, meta={"tokens": len(c.token_ids)}
        )
        if ended and room[i] > 0:
            closed.append(i)
    return closed


@STRATEGIES.register("budget_forcing")
def budget_forcing(
    problems: list[Problem],
    ctx: SearchContext,
    *,
    budget: int,
    seed: int,
    mode: str = "cap",
    think_tokens: int | None = None,
    tokens_per_sample: int = 64,
    wait_text: str = "\nWait\n",
    temperature: float = 0.0,
    answer_tokens: int = 32,
) -> list[SearchResult]:
    if mode not in MODES:
        raise PonderError(f"budget_forcing mode must be one of {MODES}, got {mode!r}")
    cap = think_tokens if think_tokens is not None else budget * tokens_per_sample
    if cap < 1:
        raise PonderError(f"budget_forcing needs think_tokens >= 1, got {cap}")
    trees = [Tree(ctx.prompt(p)) for p in problems]
    heads = [0] * len(problems)
    room = [cap] * len(problems)
    live = list(range(len(problems)))
    waits = budget - 1 if mode == "wait" else 0
    for phase in range(waits + 1):
        closed = _think(ctx, problems, trees, heads, live, room, temperature, call_seed(seed, "think", phase))
        live = closed if phase < waits else []
        for i in live:
            heads[i] = trees[i].add(heads[i], wait_text, meta={"forced": "wait"})
        if not live:
            break
    for i in range(len(problems)):
        heads[i] = trees[i].add(heads[i], f"{THINK_CLOSE}\n{ANSWER_OPEN}", meta={"forced": "answer"})
    prompts = [ctx.prompt(p) + trees[i].text(heads[i]) for i, p in enumerate(problems)]
    outs = ctx.generate(
        prompts,
        SamplingParams(
            n=1, temperature=0.0, max_tokens=answer_tokens, stop=(ANSWER_CLOSE,), seed=call_seed(seed, "answer")
        ),
        owners=list(range(len(problems))),
    )
    for i, group in enumerate(outs):
        text = group[0].text if group[0].text.endswith(ANSWER_CLOSE) else group[0].text + ANSWER_CLOSE
        heads[i] = trees[i].add(heads[i], text, terminal=True)
    return [result(trees[i], heads[i], think_cap=cap) for i in range(len(problems))]
