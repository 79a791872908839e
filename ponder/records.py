"""The one result-record schema, written once and read everywhere (`ponder tasks`, `solve`,
`verify`, `train sft`/RL problems): `problem_id, task, question, answer` (the reference),
`prompt, response, correct, score, cost, meta`. A file of many records is JSONL, one record per
line, so `ponder tasks` → `ponder solve --json out.jsonl` → `ponder verify` → `ponder train sft
--data.path=out.jsonl` chains with no converter.

`answer` is always the reference answer (null when unknown); what the model answered lives in
`meta["parsed"]`. A problem's private checker data (`Problem.info`, e.g. code tests) rides in
`meta["info"]` so a record can be read back as a Problem. Older files with `id` (not
`problem_id`) or `trace` (not `response`) are still read.

Left out: parquet/arrow writing (the `datasets` library reads these JSONL files as they are).
"""

from __future__ import annotations

from typing import Any

from ponder.types import Problem

FIELDS = ("problem_id", "task", "question", "answer", "prompt", "response", "correct", "score", "cost", "meta")


def make_record(
    problem: Problem,
    *,
    prompt: str | None = None,
    response: str | None = None,
    correct: bool | None = None,
    score: float | None = None,
    cost: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The record of one problem (and, when given, one response to it), every field present."""
    extra = dict(problem.meta)
    if problem.info:
        extra["info"] = problem.info
    extra.update(meta or {})
    return {
        "problem_id": problem.id,
        "task": problem.task,
        "question": problem.question,
        "answer": problem.answer,
        "prompt": prompt,
        "response": response,
        "correct": correct,
        "score": score if score is not None or correct is None else float(correct),
        "cost": cost,
        "meta": extra,
    }


def record_id(rec: dict[str, Any], default: str) -> str:
    """The record's problem id: `problem_id`, else an older file's `id`, else `default`."""
    for key in ("problem_id", "id"):
        if rec.get(key) is not None:
            return str(rec[key])
    return default


def record_response(rec: dict[str, Any]) -> Any:
    """The record's response: `response`, else an older file's `trace`."""
    return rec["response"] if rec.get("response") is not None else rec.get("trace")


def problem_of(rec: dict[str, Any], default_id: str) -> Problem:
    """The Problem a record stands for (its checker data read back from `meta["info"]`)."""
    meta = dict(rec.get("meta") or {})
    info = {**(meta.pop("info", None) or {}), **(rec.get("info") or {})}
    for key in ("parsed", "verdict", "strategy", "prompt_format"):
        meta.pop(key, None)
    answer = rec.get("answer")
    return Problem(
        id=record_id(rec, default_id),
        task=str(rec.get("task")),
        question=str(rec.get("question", "")),
        answer=None if answer is None else str(answer),
        meta=meta,
        info=info,
    )
