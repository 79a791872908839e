"""Helpers shared by the strategies: seeds per call, answers of responses, sampling whole
responses in one call, and growing partial traces by one step for every frontier node of every
problem in one call. Defaults for the tiny reasoner live here too."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from ponder.search.engine import SearchContext, Step
from ponder.search.tree import Tree
from ponder.steps import STEP_DELIMITER, is_final_step, parse_response, split_steps
from ponder.types import Completion, Problem, SamplingParams, SearchResult

TEMPERATURE = 0.8  # the tiny reasoner's headroom was measured at T=0.8 (shared/notes)
MAX_TOKENS = 256  # a whole response; Countdown traces of the tiny reasoner reach ~170 tokens
MAX_STEP_TOKENS = 96  # one line of a trace


def call_seed(seed: int, *parts: object) -> int:
    """A deterministic per-call seed from the run's seed and the call's position in the search."""
    return zlib.crc32(":".join(map(str, (seed, *parts))).encode()) & 0x7FFFFFFF


CODE_TASKS = ("humaneval", "mbpp")


def answer_of(text: str, task: str | None = None) -> str | None:
    """The final answer of a response as a vote key, read from the response alone (never from a
    verifier's verdict, which would leak the reference), whitespace-normalised: the `<answer>`
    body, else ponder.verify's reference-free extraction (boxed, ####, "the answer is"); for
    code tasks the extracted program. None: nothing to vote. The one key every vote uses: search's
    majority / weighted / beam / MCTS and eval's pooled majority and weighted votes."""
    if task in CODE_TASKS:
        from ponder.verify.code_verifier import extract_code

        answer = extract_code(text)
    else:
        answer = parse_response(text).answer
        if not answer:
            from ponder.verify.extract import extract_answer

            answer = extract_answer(text)
    return " ".join(answer.split()) if answer else None


def split_response(text: str) -> list[str]:
    """A response as steps. A Step's logprobs are shared out among its steps: exactly when there
    is one token per character, else in proportion to each step's characters (an approximation
    for multi-character tokens; the Generator protocol gives no token offsets)."""
    steps = split_steps(text, STEP_DELIMITER)
    if not isinstance(text, Step) or text.logprobs is None or not text:
        return steps
    lp, n_chars = text.logprobs, len(text)
    out, start = [], 0
    for s in steps:
        end = start + len(s)
        a, b = round(start * len(lp) / n_chars), round(end * len(lp) / n_chars)
        out.append(Step(s, lp[a:b]))
        start = end
    return out


def sample_responses(
    problems: list[Problem], ctx: SearchContext, *, n: int, temperature: float, max_tokens: int, seed: int
) -> list[list[Completion]]:
    """n whole responses per problem in ONE generator call (each prompt sent once with n samples)."""
    params = SamplingParams(n=n, temperature=temperature, max_tokens=max_tokens, seed=seed)
    return ctx.generate([ctx.prompt(p) for p in problems], params, owners=list(range(len(problems))))


def flat_tree(prompt: str, completions: list[Completion], scores: list[float] | None = None) -> Tree:
    """A one-level tree: the prompt and one child per sampled response."""
    tree = Tree(prompt)
    for j, c in enumerate(completions):
        tree.add(
            0,
            c.text,
            score=None if scores is None else scores[j],
            terminal=True,
            meta={"answer": answer_of(c.text), "finish": c.finish_reason, "tokens": len(c.token_ids)},
        )
    return tree


def result(tree: Tree, node_id: int | None, **meta: object) -> SearchResult:
    """The SearchResult for the chosen node (None: no answer was found)."""
    if node_id is None:
        return SearchResult(problem_id="", answer=None, response="", tree=tree.nodes, meta=dict(meta))
    tree.choose(node_id)
    text = tree.text(node_id)
    return SearchResult(problem_id="", answer=answer_of(text), response=text, tree=tree.nodes, meta=dict(meta))


@dataclass
class Grown:
    """One new step for a frontier node: the step text (with logprobs) and whether it ends the trace."""

    step: Step
    terminal: bool
    tokens: int


def grow(
    ctx: SearchContext,
    frontier: list[tuple[int, str]],
    problems: list[Problem],
    *,
    n: int,
    temperature: float,
    seed: int,
    max_step_tokens: int = MAX_STEP_TOKENS,
    stop: tuple[str, ...] = (STEP_DELIMITER,),
) -> list[list[Grown]]:
    """n next steps (or fixed-size chunks, with stop=()) for each (problem index, trace so far),
    all in ONE generator call."""
    prompts = [ctx.prompt(problems[i]) + prefix for i, prefix in frontier]
    params = SamplingParams(n=n, temperature=temperature, max_tokens=max_step_tokens, stop=stop, seed=seed)
    outputs = ctx.generate(prompts, params, owners=[i for i, _ in frontier])
    return [[_grown(c) for c in group] for group in outputs]


def _grown(c: Completion) -> Grown:
    ended = c.finish_reason == "eos" or is_final_step(c.text) or (not c.text and c.finish_reason != "length")
    return Grown(step=Step.of(c), terminal=ended or not c.text, tokens=len(c.token_ids))


def finish(
    ctx: SearchContext,
    frontier: list[tuple[int, str]],
    problems: list[Problem],
    *,
    temperature: float,
    seed: int,
    max_tokens: int,
) -> list[Completion]:
    """Complete each (problem index, trace so far) to the end of the response, in ONE call."""
    prompts = [ctx.prompt(problems[i]) + prefix for i, prefix in frontier]
    params = SamplingParams(n=1, temperature=temperature, max_tokens=max(max_tokens, 1), seed=seed)
    return [g[0] for g in ctx.generate(prompts, params, owners=[i for i, _ in frontier])]
