"""`NucleusGenerator`: every sampled call (temperature > 0) of the wrapped Generator draws with
nucleus sampling at `top_p`; greedy calls pass unchanged. This is how `--top-p` reaches every
search strategy (and eval's pool) without each strategy growing its own knob: strategies build
their own SamplingParams, and this layer sets one field of them. Left out: top-k / min-p.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ponder.types import Completion, Generator, PonderError, SamplingParams


class NucleusGenerator:
    def __init__(self, gen: Generator, top_p: float):
        if not 0 < top_p <= 1:
            raise PonderError(f"--top-p must be in (0, 1], got {top_p}")
        self.gen, self.top_p = gen, top_p

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.gen, attr)

    def render(self, question: str) -> str:
        return self.gen.render(question)

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        if params.temperature > 0:
            params = dataclasses.replace(params, top_p=self.top_p)
        return self.gen.generate(prompts, params)


def with_top_p(gen: Generator, top_p: float | None) -> Generator:
    """`gen` itself when top_p is None, else wrapped."""
    return gen if top_p is None else NucleusGenerator(gen, top_p)
