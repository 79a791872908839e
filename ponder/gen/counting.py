"""A Generator wrapper that counts what passes through it and reports after every call, so a
command line can show progress on a long search without the search knowing about it.
Left out: progress inside one call (a batched call reports once, when it returns)."""

from __future__ import annotations

from collections.abc import Callable

from ponder.types import Completion, Generator, SamplingParams


class CountingGenerator:
    """Passes every call to `gen` unchanged; after each, on_call(calls, generated tokens so far)."""

    def __init__(self, gen: Generator, on_call: Callable[[int, int], None]):
        self.gen, self.on_call = gen, on_call
        self.name, self.n_params = gen.name, gen.n_params
        self.tokenizer = getattr(gen, "tokenizer", None)  # a think-token cap counts with it (search/cli.py)
        self.calls = self.tokens = 0

    def render(self, question: str) -> str:
        return self.gen.render(question)

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        outs = self.gen.generate(prompts, params)
        self.calls += 1
        self.tokens += sum(len(c.token_ids) for group in outs for c in group)
        self.on_call(self.calls, self.tokens)
        return outs
