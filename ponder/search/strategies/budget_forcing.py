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
from ponder.search.calls import call_seed
from ponder.search.engine import SearchContext
from ponder.search.forest import Forest
from ponder.steps import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE
from ponder.types import Pick, PonderError, Problem, SamplingParams

MODES = ("cap", "wait")


def _think(
    ctx: SearchContext,
    problems: list[Problem],
    forest: Forest,
    heads: list[int],
    live: list[int],
    room: list[int],
    temperature: float,
    seed: int,
) -> list[int]:
    """One thinking phase for the live problems; returns those that closed `</think>` themselves."""
    prompts = [ctx.prompt(problems[i]) + forest.prefix((i, heads[i])) for i in live]
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
        thought = text[: -len(THINK_CLOSE)] if ended else text
        heads[i] = forest.add((i, heads[i]), thought, meta={"tokens": len(c.token_ids)})[1]
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
) -> list[Pick]:
    if mode not in MODES:
        raise PonderError(f"budget_forcing mode must be one of {MODES}, got {mode!r}")
    cap = think_tokens if think_tokens is not None else budget * tokens_per_sample
    if cap < 1:
        raise PonderError(f"budget_forcing needs think_tokens >= 1, got {cap}")
    forest = Forest(ctx, problems)
    heads = [0] * len(problems)
    room = [cap] * len(problems)
    live = list(range(len(problems)))
    waits = budget - 1 if mode == "wait" else 0
    for phase in range(waits + 1):
        closed = _think(ctx, problems, forest, heads, live, room, temperature, call_seed(seed, "think", phase))
        live = closed if phase < waits else []
        for i in live:
            heads[i] = forest.add((i, heads[i]), wait_text, meta={"forced": "wait"})[1]
        if not live:
            break
    for i in range(len(problems)):
        heads[i] = forest.add((i, heads[i]), f"{THINK_CLOSE}\n{ANSWER_OPEN}", meta={"forced": "answer"})[1]
    prompts = [ctx.prompt(p) + forest.prefix((i, heads[i])) for i, p in enumerate(problems)]
    outs = ctx.generate(
        prompts,
        SamplingParams(
            n=1, temperature=0.0, max_tokens=answer_tokens, stop=(ANSWER_CLOSE,), seed=call_seed(seed, "answer")
        ),
        owners=list(range(len(problems))),
    )
    for i, group in enumerate(outs):
        text = group[0].text if group[0].text.endswith(ANSWER_CLOSE) else group[0].text + ANSWER_CLOSE
        heads[i] = forest.add((i, heads[i]), text, terminal=True)[1]
    return [forest.pick(i, heads[i], think_cap=cap) for i in range(len(problems))]
