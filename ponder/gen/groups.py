"""Groups of samples: n completions per problem from one generator call, seen both as groups
(one list per problem, for per-problem decisions) and flat (one entry per completion, for one
batched verifier / reward / scorer call), with `unflatten` to bring flat results back into
groups. Every "sample n per problem, verify or score them all at once, decide per problem" loop
in ponder goes through here.

Left out: groups of unequal size from one call (a Generator returns params.n per prompt; groups
built from outputs of several calls may differ in size and are handled by sizes, not by n).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ponder.types import Completion, Generator, Problem, SamplingParams

T = TypeVar("T")
V = TypeVar("V")


@dataclass
class Groups(Generic[T]):
    """`outputs[i]` are the completions of `owners[i]` (a problem, or whatever a prompt stood for)."""

    owners: list[T]
    outputs: list[list[Completion]]  # (P, n)

    @property
    def flat(self) -> list[Completion]:
        """(P * n,) completions, group after group."""
        return [c for g in self.outputs for c in g]

    @property
    def texts(self) -> list[str]:
        return [c.text for g in self.outputs for c in g]

    @property
    def flat_owners(self) -> list[T]:
        """(P * n,) the owner of each flat completion."""
        return [o for o, g in zip(self.owners, self.outputs) for _ in g]

    @property
    def flat_index(self) -> list[int]:
        """(P * n,) the group index of each flat completion."""
        return [i for i, g in enumerate(self.outputs) for _ in g]

    def unflatten(self, values: Sequence[V]) -> list[list[V]]:
        """Per-completion values (P * n,) back into groups (P, n)."""
        if len(values) != sum(len(g) for g in self.outputs):
            raise ValueError(f"{len(values)} values for {sum(len(g) for g in self.outputs)} completions")
        out, k = [], 0
        for g in self.outputs:
            out.append(list(values[k : k + len(g)]))
            k += len(g)
        return out


def sample_groups(
    gen: Generator, problems: Sequence[Problem], params: SamplingParams, prompts: Sequence[str] | None = None
) -> Groups[Problem]:
    """params.n completions per problem in ONE generator call (prompts: the rendered questions
    unless given)."""
    prompts = [gen.render(p.question) for p in problems] if prompts is None else list(prompts)
    return Groups(list(problems), gen.generate(prompts, params) if prompts else [])
