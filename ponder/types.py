"""The shared vocabulary of ponder: problems, completions, sampling parameters, costs, scores,
search trees, and the protocols at the seams (Generator, Verifier, StepScorer, OutcomeScorer,
Strategy), each declared here once.

Everything here is plain data (dataclasses) so that it serialises to JSON. Nothing here imports
torch. A Problem's reference answer and its private checker data (`answer`, `info`) are for
`verify/` only; strategies receive `Problem.public()` copies (see search/engine.py).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class PonderError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits non-zero."""


@dataclass(frozen=True)
class Problem:
    """One problem. `question` is the text shown to the model (before the model's prompt template).

    `meta` is public (difficulty, Countdown numbers and target, ...): search may read it.
    `answer` and `info` (tests, a puzzle's solution, ...) are private: only verifiers read them.
    """

    id: str
    task: str
    question: str
    answer: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def public(self) -> Problem:
        """A copy without the reference answer and private data: what a search strategy may see."""
        return dataclasses.replace(self, answer=None, info={})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Problem:
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})


@dataclass
class Completion:
    """One sampled continuation of a prompt.

    `text` includes the stop string when one was hit (finish_reason "stop"), so that
    prompt + step_1 + step_2 + ... is exactly the text the model saw. `logprobs[i]` is the
    model's log-probability (temperature 1, before top-p/top-k) of `token_ids[i]`.
    `prompt_tokens` is the length of the prompt it continued; a prompt sampled n times is
    processed once, so cost counting charges it once per prompt (see search/engine.py).
    With `SamplingParams.token_stats` a backend that sees the whole next-token distribution also
    fills `entropies[i]` (nats) and `certainties[i]` (self-certainty: KL(uniform || p), nats) of
    the distribution token i was drawn from (temperature 1); otherwise they stay None.
    """

    text: str
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] | None = None
    finish_reason: str = "length"  # "stop" (stop string) | "eos" | "length"
    prompt_tokens: int = 0
    entropies: list[float] | None = None
    certainties: list[float] | None = None


MASK64 = (1 << 64) - 1
GOLDEN64 = 0x9E3779B97F4A7C15  # splitmix64's increment


def mix64(x: int) -> int:
    """splitmix64's finaliser (Steele, Lea & Flood 2014) of x mod 2**64: a 64-bit bijection."""
    x &= MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def derived_seed(seed: int, i: int) -> int:
    """The seed of prompt i of a call seeded with one int: the i-th number of the splitmix64 stream
    that starts at `seed`, kept to 63 bits (an int64 anywhere: JSON, vLLM, an OpenAI server)."""
    return mix64(seed + GOLDEN64 * (i + 1)) >> 1


def fresh_seeds(n: int) -> tuple[int, ...]:
    """n prompt seeds from fresh entropy (an unseeded call: its rows are not repeatable)."""
    base = int.from_bytes(os.urandom(8), "little")
    return tuple(derived_seed(base, i) for i in range(n))


@dataclass(frozen=True)
class SamplingParams:
    """How to sample one call. `seed`: None (fresh entropy), one int (prompt i samples with
    `derived_seed(seed, i)`: the whole call repeats from one number), or one int per prompt (a
    list becomes a tuple). A row's random numbers depend only on its prompt's seed and its copy
    index (0..n-1), so a seeded prompt gives the same samples whatever else shares its call on the
    hf backend (see gen/sampling.py; other backends say what they guarantee)."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | tuple[int, ...] | None = None
    logprobs: bool = True
    token_stats: bool = False  # per-token entropy and self-certainty (Completion.entropies / certainties)

    def __post_init__(self) -> None:
        if self.n < 1:
            raise PonderError(f"SamplingParams.n must be >= 1, got {self.n}")
        if self.temperature < 0:
            raise PonderError(f"SamplingParams.temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise PonderError(f"SamplingParams.top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise PonderError(f"SamplingParams.top_k must be >= 0, got {self.top_k}")
        if self.max_tokens < 0:
            raise PonderError(f"SamplingParams.max_tokens must be >= 0, got {self.max_tokens}")
        if isinstance(self.stop, (str, list)):
            object.__setattr__(self, "stop", (self.stop,) if isinstance(self.stop, str) else tuple(self.stop))
        if isinstance(self.seed, list):
            object.__setattr__(self, "seed", tuple(self.seed))
        seeds = self.seed if isinstance(self.seed, tuple) else () if self.seed is None else (self.seed,)
        if any(isinstance(s, bool) or not isinstance(s, int) for s in seeds):
            raise PonderError(f"SamplingParams.seed must be None, an int or one int per prompt, got {self.seed!r}")

    def prompt_seeds(self, n_prompts: int) -> tuple[int, ...] | None:
        """One seed per prompt of a call of n_prompts (None: unseeded). A per-prompt seed tuple must
        have one seed per prompt."""
        if self.seed is None or isinstance(self.seed, tuple):
            if self.seed is not None and len(self.seed) != n_prompts:
                raise PonderError(f"SamplingParams.seed has {len(self.seed)} seeds for {n_prompts} prompts")
            return self.seed
        return tuple(derived_seed(self.seed, i) for i in range(n_prompts))

    def for_prompts(self, n_prompts: int, indices: list[int] | range) -> SamplingParams:
        """These params for a call of prompts[indices] out of n_prompts, each prompt keeping the seed
        it has in the whole call (split calls sample what the whole call would)."""
        seeds = self.prompt_seeds(n_prompts)
        return self if seeds is None else dataclasses.replace(self, seed=tuple(seeds[i] for i in indices))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def flops_estimate(n_params: int | None, tokens: float) -> float | None:
    """2 x parameters x tokens (forward only); None when the model's size is unknown."""
    return None if n_params is None else 2.0 * n_params * tokens


def add_flops(a: float | None, b: float | None) -> float | None:
    """FLOPs add up; an unknown (None) term makes the total unknown rather than an undercount."""
    return None if a is None or b is None else a + b


@dataclass
class Cost:
    """Compute spent. FLOPs are estimated as 2 x parameters x tokens (forward only); None when
    the generator's parameter count is unknown (an OpenAI-compatible server without --model-params)."""

    generated_tokens: int = 0
    prompt_tokens: int = 0
    gen_calls: int = 0
    scorer_calls: int = 0
    scorer_tokens: int = 0
    seconds: float = 0.0
    flops: float | None = 0.0

    def __add__(self, other: Cost) -> Cost:
        out = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in dataclasses.fields(self)
            if f.name != "flops"
        }
        return Cost(**out, flops=add_flops(self.flops, other.flops))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Score:
    """A verifier's judgement of one response. `parsed` is False when no answer could be found,
    which is reported apart from a wrong answer. Verifiers never raise on model output."""

    value: float
    parsed: bool = True
    reason: str = ""
    extracted: str | None = None

    @property
    def correct(self) -> bool:
        return self.value >= 1.0


@dataclass
class Node:
    """One node of a search tree. `text` is the step (or chunk) this node appended to its parent."""

    id: int
    parent: int | None
    text: str
    depth: int = 0
    score: float | None = None
    value: float = 0.0
    visits: int = 0
    prior: float | None = None
    terminal: bool = False
    chosen: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchResult:
    """What a strategy returns for one problem: the final answer, the chosen trace, its cost, and
    the whole tree (or the list of candidates, as a flat tree) as plain data."""

    problem_id: str
    answer: str | None
    response: str
    cost: Cost = field(default_factory=Cost)
    tree: list[Node] = field(default_factory=list)
    strategy: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Step(str):
    """One generated piece of a trace (a step, a chunk, or a whole response) as a scorer receives
    it: a plain str that also carries the token logprobs the generator gave for it (None when the
    backend gave none), and, when asked for (SamplingParams.token_stats), each token's
    distribution entropy and self-certainty. Scorers that only read text treat it as a str."""

    logprobs: list[float] | None
    entropies: list[float] | None
    certainties: list[float] | None

    def __new__(
        cls,
        text: str,
        logprobs: list[float] | None = None,
        entropies: list[float] | None = None,
        certainties: list[float] | None = None,
    ) -> Step:
        obj = super().__new__(cls, text)
        obj.logprobs = logprobs
        obj.entropies = entropies
        obj.certainties = certainties
        return obj

    @classmethod
    def of(cls, completion: Completion) -> Step:
        return cls(completion.text, completion.logprobs, completion.entropies, completion.certainties)

    def __add__(self, other: str) -> Step:
        def joined(name: str) -> list[float] | None:
            mine = getattr(self, name)
            theirs = getattr(other, name) if isinstance(other, Step) else None
            return mine + theirs if mine is not None and theirs is not None else None

        return Step(str(self) + str(other), joined("logprobs"), joined("entropies"), joined("certainties"))


@dataclass
class Pick:
    """What a strategy returns for one problem: the tree it grew (node 0 the prompt) and the node
    whose path is its answer (None: it found none), plus its own notes. The engine turns a Pick
    into a SearchResult: it marks the chosen path, reads the response and its answer off it, and
    adds the problem id, the strategy name, the Cost and the run's settings."""

    tree: list[Node]
    chosen: int | None
    meta: dict[str, Any] = field(default_factory=dict)


# The seams. Each is declared here and nowhere else.


@runtime_checkable
class Generator(Protocol):
    """The only seam to an inference engine (gen/). `n_params` is None when unknown (a remote server)."""

    name: str
    n_params: int | None

    def render(self, question: str) -> str:
        """The model's prompt for a question (its chat/prompt template applied)."""
        ...

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        """params.n completions per prompt, in prompt order. `params.stop` ends a step."""
        ...


class Verifier(Protocol):
    """Outcome reward; may read the reference answer. Total: never raises on model output."""

    def __call__(self, problems: list[Problem], responses: list[str]) -> list[Score]: ...


@runtime_checkable
class StepScorer(Protocol):
    """Process score for search; never reads the reference answer. One score per step. Steps are
    `Step`s: a scorer may read their `logprobs` (the policy's own, free), or ignore them."""

    def score_steps(self, problems: list[Problem], steps: list[list[Step]]) -> list[list[float]]: ...


@runtime_checkable
class OutcomeScorer(Protocol):
    """Score of a whole response without the reference answer (ORM, confidence, judge). A
    response is a `Step` (with its logprobs when the generator gave them)."""

    def score(self, problems: list[Problem], responses: list[Step]) -> list[float]: ...


@runtime_checkable
class NeedsTokenStats(Protocol):
    """A scorer that reads Step.entropies / Step.certainties: the search asks the generator for
    them (SamplingParams.token_stats) when `needs_token_stats` is True."""

    needs_token_stats: bool


@runtime_checkable
class Metered(Protocol):
    """A scorer that runs a model reports its size and the tokens it has read so far, so that
    search charges its compute (None: size unknown, so are the FLOPs)."""

    n_params: int | None
    tokens_scored: int


class Strategy(Protocol):
    """A test-time search strategy (search/strategies/, one per file). It receives public problems
    only, makes every model call through `ctx` (ponder.search.engine.SearchContext, which counts
    the cost), spends `budget` samples' worth per problem, and returns one Pick per problem."""

    def __call__(self, problems: list[Problem], ctx: Any, *, budget: int, seed: int, **options: Any) -> list[Pick]: ...
