"""The server's model side: one Generator behind a BatchingGenerator, and the two things a
request can ask of it. Both block (the app runs them in worker threads) and both only touch the
model through the batcher, so concurrent requests share generator calls.

`chat(req)`: the messages are rendered with the model's chat template; the last user message is
read as a built-in task problem when it is one (so the `check` scorer can check its steps), else
as free text of task "chat". `n` copies of the problem go through `run_search` together, under a
RequestGenerator (the request's temperature / top_p on every sampled call, its seed, its
cancellation) and a ThinkBudget (the thinking cap); strategies see the rendered prompt as the
question. `complete(req)`: plain continuation of each prompt, one batched call, no search.
"""

from __future__ import annotations

import dataclasses
import random
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from ponder.search.think_budget import ThinkBudget
from ponder.serve.batcher import BatchingGenerator
from ponder.serve.errors import APIError
from ponder.serve.plan import Plan, make_plan
from ponder.serve.schema import ChatRequest, CompletionRequest
from ponder.serve.tokens import CharTokens, Tokens
from ponder.steps import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN
from ponder.types import Completion, Cost, Generator, PonderError, Problem, SamplingParams, SearchResult

TAGS = f"{THINK_OPEN}{THINK_CLOSE}\n{ANSWER_OPEN}{ANSWER_CLOSE}"


class Cancelled(Exception):
    """The client went away; the search stops at its next generator call."""


class RequestGenerator:
    """One request's view of the shared batcher: its sampling settings, seed and cancellation.

    A seeded request stays repeatable whatever else the server is doing: each of its sampled calls
    carries a seed (a call the strategy left unseeded, such as ThinkBudget's forced answer, gets
    one derived from the request's seed and the call's position in the request); the batcher
    merges it with other requests' calls keeping one seed per prompt, and each row draws from its
    own prompt's seed (gen/rng.py). An unseeded request's calls carry no seed."""

    def __init__(
        self,
        inner: Generator,
        temperature: float | None,
        top_p: float | None,
        seed: int | None,
        cancel: threading.Event,
    ):
        self.inner, self.temperature, self.top_p, self.seed, self.cancel = inner, temperature, top_p, seed, cancel
        self.name, self.n_params = inner.name, inner.n_params
        self.calls = 0  # generator calls made so far (the position that derives an unseeded call's seed)

    def render(self, question: str) -> str:
        return question  # the server renders the chat itself; a problem's question is that prompt

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        if self.cancel.is_set():
            raise Cancelled()
        changes: dict[str, Any] = {}
        if self.temperature is not None:
            changes["temperature"] = self.temperature
        if self.top_p is not None:
            changes["top_p"] = self.top_p
        self.calls += 1
        if self.seed is None or changes.get("temperature", params.temperature) == 0:
            changes["seed"] = None  # unseeded calls merge with other requests'
        elif params.seed is None:
            changes["seed"] = call_seed(self.seed, self.calls)
        return self.inner.generate(prompts, dataclasses.replace(params, **changes))


def call_seed(seed: int, call: int) -> int:
    """The seed of a seeded request's `call`-th generator call that came without one (31 bits)."""
    return (seed * 1_000_003 + call * 7_919) % (1 << 31)


@dataclass
class ChatOutput:
    plan: Plan
    prompt: str
    responses: list[str]
    cost: Cost
    prompt_tokens: int
    results: list[SearchResult] = field(default_factory=list)


class ServeEngine:
    def __init__(
        self,
        gen: Generator,
        model_id: str,
        *,
        default_effort: str = "low",
        wait_ms: float = 50.0,
        max_prompts: int = 256,
        tokens: Tokens | CharTokens | None = None,
    ):
        self.gen, self.model_id, self.default_effort = gen, model_id, default_effort
        self.tokens = tokens or Tokens.of(gen)
        self.count = self.tokens.count
        self.batcher = BatchingGenerator(gen, wait_ms=wait_ms, max_prompts=max_prompts)
        _same_threads(self.batcher)

    def close(self) -> None:
        self.batcher.close()

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        rendered = self.tokens.chat(messages)
        if rendered is not None:
            return rendered
        return self.gen.render("\n".join(m["content"] for m in messages))

    def check_model(self, model: str) -> None:
        if model != self.model_id:
            raise APIError(
                404, f"model {model!r} not found; this server serves {self.model_id!r}", "model", "model_not_found"
            )

    def chat(self, req: ChatRequest, cancel: threading.Event) -> ChatOutput:
        from ponder.search import run_search

        self.check_model(req.model)
        plan = make_plan(req, self.default_effort, self.count(TAGS))
        s = req.sampling
        prompt = self.render_chat(req.messages)
        task, meta = _detect([m["content"] for m in req.messages if m["role"] == "user"])
        problems = [Problem(id=f"choice-{i}", task=task, question=prompt, meta=meta) for i in range(s.n)]
        rgen = RequestGenerator(self.batcher, s.temperature, s.top_p, s.seed, cancel)
        tb = ThinkBudget(rgen, plan.think_tokens, self.count, answer_tokens=plan.answer_tokens)
        seed = s.seed if s.seed is not None else random.randrange(1 << 31)
        with self.batcher.session():
            try:
                results = run_search(
                    plan.strategy, problems, tb, budget=plan.budget, scorer=plan.scorer, seed=seed, **plan.options
                )
            except PonderError as e:
                raise APIError(400, str(e), param="ponder") from None
            responses = tb.finish([prompt] * len(results), [r.response for r in results])
        cost = sum((r.cost for r in results), Cost())
        cost.generated_tokens += sum(self.count(a[len(r.response) :]) for a, r in zip(responses, results))
        return ChatOutput(plan, prompt, responses, cost, self.count(prompt), results)

    def complete(self, req: CompletionRequest) -> list[list[Completion]]:
        self.check_model(req.model)
        s = req.sampling
        params = SamplingParams(
            n=s.n,
            temperature=1.0 if s.temperature is None else s.temperature,
            top_p=1.0 if s.top_p is None else s.top_p,
            top_k=s.top_k,
            max_tokens=s.max_tokens or 16,
            stop=s.stop,
            seed=s.seed if s.temperature != 0 else None,
            logprobs=s.logprobs is not None,
        )
        with self.batcher.session():
            return self.batcher.generate(req.prompts, params)

    def content_logprobs(self, prefix: str, content: str) -> list[tuple[str, float]]:
        """(token, logprob) of `content` after `prefix`, teacher-forced on the worker thread."""
        score = getattr(self.gen, "logprobs", None)  # the hf backend's teacher-forced scoring
        if score is None:
            raise APIError(400, f"logprobs are not available from the {self.gen.name} backend", "logprobs")
        if not content:
            return []
        lps = self.batcher.run(lambda: score([prefix], [content])[0])
        return [(self.tokens.decode(i), float(lp)) for i, lp in zip(self.tokens.ids(content), lps)]


def _same_threads(batcher: BatchingGenerator) -> None:
    """The worker thread decodes with the creating thread's torch thread count (OpenMP settings
    are per thread; a new thread would otherwise use every core)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        n = torch.get_num_threads()
        batcher.run(lambda: torch.set_num_threads(n))


def _detect(user_texts: list[str]) -> tuple[str, dict[str, Any]]:
    """The task and public meta of the last user message, when it reads as a built-in problem."""
    from ponder.tasks import detect_task

    if not user_texts:
        return "chat", {}
    try:
        p = detect_task(user_texts[-1].strip())
    except PonderError:
        return "chat", {}
    return p.task, dict(p.meta)
