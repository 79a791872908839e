"""Rollouts for `ponder data`: K responses per problem from any strategy (plain sampling, or
any search strategy run K times with different seeds), each verified, appended to
`rollouts.jsonl` one problem at a time so that a killed run resumes where it stopped: problems
with all K records on file are skipped, a problem cut short by the kill is sampled again.

Records follow the one schema of ponder/records.py: problem_id, task, question, answer (the
reference), prompt, response, correct, score, cost, meta (the response's final answer as
`parsed`, the problem's own meta and checker data, pass rate filled later, finish reason,
strategy), so `ponder verify` and `ponder train sft` read the output as they read any record.
Chunks go out to an executor (ponder/executor): `local` samples and verifies them one after
another here, `ray` as Ray tasks that build their own generator once; the driver appends each
finished chunk, and returns the records in the problems' order.
Left out: sharding one problem's K samples over several runs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from ponder.executor import LocalExecutor
from ponder.io import atomic_write
from ponder.types import Problem, SamplingParams

log = logging.getLogger(__name__)
Record = dict[str, Any]


def read_done(path: Path, k: int) -> list[Record]:
    """Records of problems with all k rollouts on file; the file is rewritten without the rest
    (a problem cut short by a kill, a line cut mid-write)."""
    if not path.is_file():
        return []
    recs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            recs.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    count: dict[str, int] = {}
    for r in recs:
        count[r["problem_id"]] = count.get(r["problem_id"], 0) + 1
    done = [r for r in recs if count[r["problem_id"]] == k]
    if len(done) != len(recs):
        log.warning("%s: dropping %d records of unfinished problems", path, len(recs) - len(done))
        with atomic_write(path) as f:
            f.write("".join(json.dumps(r) + "\n" for r in done))
    return done


def rollout_record(p: Problem, prompt: str, text: str, cost: dict, meta: dict) -> Record:
    from ponder.answers import answer_of
    from ponder.records import make_record

    return make_record(p, prompt=prompt, response=text, cost=cost, meta={"parsed": answer_of(text, p.task), **meta})


def sample_chunk(gen, chunk: Sequence[Problem], k: int, temperature: float, max_tokens: int, seed: int) -> list[Record]:
    """k samples per problem in one generator call -> k * len(chunk) records, problem by problem."""
    from ponder.gen.groups import sample_groups

    params = SamplingParams(n=k, temperature=temperature, max_tokens=max_tokens, seed=seed)
    prompts = [gen.render(p.question) for p in chunk]
    groups = sample_groups(gen, chunk, params, prompts=prompts)
    out = []
    for p, prompt, group in zip(chunk, prompts, groups.outputs):
        for c in group:
            cost = {"generated_tokens": len(c.token_ids), "gen_calls": 1}
            out.append(
                rollout_record(p, prompt, c.text, cost, {"strategy": "sample", "finish_reason": c.finish_reason})
            )
    return out


def search_chunk(gen, chunk: Sequence[Problem], k: int, strategy: str, seed: int, **search: Any) -> list[Record]:
    """run_search k times (seeds seed..seed+k-1) -> k * len(chunk) records, problem by problem."""
    from ponder.search import run_search

    runs = [run_search(strategy, list(chunk), gen, seed=seed + j, **search) for j in range(k)]
    out = []
    for i, p in enumerate(chunk):
        for j in range(k):
            r = runs[j][i]
            out.append(rollout_record(p, gen.render(p.question), r.response, r.cost.to_dict(), {"strategy": strategy}))
    return out


def verify_records(problems: dict[str, Problem], recs: list[Record]) -> None:
    """Fill `correct` and `score` in place with the task's verifier."""
    from ponder.verify import verify

    scores = verify([problems[r["problem_id"]] for r in recs], [r["response"] for r in recs])
    for r, s in zip(recs, scores):
        r["correct"], r["score"] = bool(s.correct), float(s.value)


def _verified_chunk(chunk: Sequence[Problem], cache: dict, rollout: Callable[..., list[Record]]) -> list[Record]:
    """One chunk's records, sampled and verified where the executor runs it."""
    recs = rollout(chunk, cache)
    verify_records({p.id: p for p in chunk}, recs)
    return recs


def collect(
    path: Path, problems: Sequence[Problem], k: int, rollout: Callable[[Sequence[Problem], dict], list[Record]],
    *, batch: int = 8, on_chunk: Callable[[int], None] | None = None, executor: Any = None,
) -> list[Record]:  # fmt: skip
    """All rollouts of `problems`: those on file, then the rest in chunks of `batch`, each chunk
    verified and appended (one write per problem) as it finishes. `rollout(chunk, cache)` runs
    where the executor puts it; `cache` keeps what a worker builds once (its generator)."""
    done = read_done(path, k)
    have = {r["problem_id"] for r in done}
    todo = [p for p in problems if p.id not in have]
    path.parent.mkdir(parents=True, exist_ok=True)

    def save(_: int, recs: list[Record]) -> None:
        with path.open("a", encoding="utf-8") as f:
            for j in range(0, len(recs), k):
                f.write("".join(json.dumps(r) + "\n" for r in recs[j : j + k]))
                f.flush()
        done.extend(recs)
        if on_chunk:
            on_chunk(len(recs) // k)

    chunks = [todo[i : i + batch] for i in range(0, len(todo), batch)]
    (executor or LocalExecutor()).map(partial(_verified_chunk, rollout=rollout), chunks, on_result=save)
    order = {p.id: n for n, p in enumerate(problems)}
    return sorted((r for r in done if r["problem_id"] in order), key=lambda r: order[r["problem_id"]])
