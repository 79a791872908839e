"""A trained PRM / ORM as a search scorer: batched, no reference answer, registered in
ponder.search.SCORERS as "prm" and "orm".

`PRMScorer.score_steps` returns sigmoid(logit) at every step boundary (k steps in, k scores out;
one forward pass per trace); `score` splits a response at the PRM's delimiter and aggregates its
step scores (last / min / product / mean, ponder.search.aggregate; by default the one saved with
the PRM, chosen on held-out problems in training, else min). `ORMScorer.score` returns one
score per response. Both report `n_params` and `tokens_scored`, so search charges their compute.

By name, the folder is the `path` option: `run_search(..., scorer="prm",
scorer_options={"path": "runs/prm"})`, or `ponder solve --scorer prm --scorer-options.path=runs/prm`;
in code, `PRMScorer.load(path)` may also be passed to run_search as the scorer. Left out: caching scores of shared prefixes
between calls (beam search rescored prefixes are recomputed).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ponder.rm import critic as _critic  # noqa: E402, F401  (registers the "critic" scorer)
from ponder.rm.model import RewardModel, load_reward_model
from ponder.search import SCORERS
from ponder.search.aggregate import AGGREGATIONS, aggregate
from ponder.steps import split_steps
from ponder.types import Generator, PonderError, Problem


class _Scoring:
    """Shared batching: encode traces, run the model in chunks, count the tokens read."""

    def __init__(self, model: RewardModel, batch_size: int = 32):
        self.model = model.eval()
        self.batch_size = batch_size
        self.n_params = model.n_params
        self.tokens_scored = 0

    @torch.no_grad()
    def _step_probs(self, problems: list[Problem], steps: list[list[str]]) -> list[list[float]]:
        if len(problems) != len(steps):
            raise PonderError(f"got {len(problems)} problems but {len(steps)} step lists; pass one per problem")
        enc = [
            self.model.encode(p.question, s, where=f"trace {i} ({p.id})")
            for i, (p, s) in enumerate(zip(problems, steps))
        ]
        out: list[list[float]] = []
        for i in range(0, len(enc), self.batch_size):
            chunk = enc[i : i + self.batch_size]
            self.tokens_scored += sum(len(e.input_ids) for e in chunk)
            out += [torch.sigmoid(x.float()).tolist() for x in self.model(chunk)]
        return out

    def _split(self, response: str) -> list[str]:
        steps = split_steps(response, self.model.delimiter)
        return steps or [response]  # an empty response is one empty step: scored at the prompt's end


class PRMScorer(_Scoring):
    def __init__(self, model: RewardModel, agg: str | None = None, batch_size: int = 32):
        if model.kind != "prm":
            raise PonderError("PRMScorer needs a PRM; this folder holds an ORM (use ORMScorer / scorer 'orm')")
        agg = agg or getattr(model, "agg", None) or "min"
        if agg not in AGGREGATIONS:
            raise PonderError(f"unknown step aggregation {agg!r}; use one of {', '.join(AGGREGATIONS)}")
        super().__init__(model, batch_size)
        self.agg = agg

    @classmethod
    def load(cls, path: str | Path, agg: str | None = None, delimiter: str | None = None, **kw) -> PRMScorer:
        return cls(load_reward_model(path, kind="prm", delimiter=delimiter), agg=agg, **kw)

    def score_steps(self, problems: list[Problem], steps: list[list[str]]) -> list[list[float]]:
        """One score in (0, 1) per step: P(the trace is still on a correct path after step i)."""
        return self._step_probs(problems, steps)

    def score(self, problems: list[Problem], responses: list[str]) -> list[float]:
        per_step = self._step_probs(problems, [self._split(r) for r in responses])
        return [aggregate(s, self.agg) for s in per_step]


class ORMScorer(_Scoring):
    def __init__(self, model: RewardModel, batch_size: int = 32):
        if model.kind != "orm":
            raise PonderError("ORMScorer needs an ORM; this folder holds a PRM (use PRMScorer / scorer 'prm')")
        super().__init__(model, batch_size)

    @classmethod
    def load(cls, path: str | Path, delimiter: str | None = None, **kw) -> ORMScorer:
        return cls(load_reward_model(path, kind="orm", delimiter=delimiter), **kw)

    def score(self, problems: list[Problem], responses: list[str]) -> list[float]:
        """One score in (0, 1) per response: P(correct), read at the response's last token."""
        return [s[-1] for s in self._step_probs(problems, [self._split(r) for r in responses])]


def rm_folder(path: str | None, kind: str) -> str:
    """The trained folder a `prm` / `orm` scorer or reward is built from; none is one clear error."""
    if not path:
        raise PonderError(
            f"{kind!r} needs a trained {kind.upper()} folder (train one with `ponder train {kind}`): "
            f"scorer_options={{'path': FOLDER}} in run_search, `--scorer-options.path=FOLDER` in `ponder solve`, "
            f"`--reward-options.path=FOLDER` in `ponder train grpo`"
        )
    return path


@SCORERS.register("prm")
def prm(gen: Generator | None = None, path: str | None = None, agg: str | None = None) -> PRMScorer:
    return PRMScorer.load(rm_folder(path, "prm"), agg=agg)


@SCORERS.register("orm")
def orm(gen: Generator | None = None, path: str | None = None) -> ORMScorer:
    return ORMScorer.load(rm_folder(path, "orm"))
