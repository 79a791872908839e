"""Teacher traces for distillation and rejection sampling: sample K responses per problem from
any Generator (a larger tiny model, a real model, or an OpenAI-compatible server), keep the ones
the verifier accepts, and write (prompt, response) records for SFT. With `hint=True` (STaR's
rationalisation) the teacher sees the reference answer in the question, but the record keeps
the question without it, so the student learns to reach the answer unaided.

Left out: deduplication beyond exact text, teacher-student prompt-template conversion (the
record stores the question, which the student renders with its own template).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ponder.gen.groups import sample_groups
from ponder.types import Problem, SamplingParams

HINT_TEMPLATE = "{question} (the answer is {answer})"


def sample_verified(
    gen,
    problems: Sequence[Problem],
    accuracy_fn: Callable,
    *,
    k: int,
    temperature: float,
    max_tokens: int,
    seed: int,
    hint: bool = False,
    keep_per_problem: int = 0,
    batch: int = 64,
) -> tuple[list[dict], dict[str, float]]:
    """-> (records {"id", "question", "response"}, {problem id: pass rate}) over `problems`."""
    records, rates = [], {}
    params = SamplingParams(n=k, temperature=temperature, max_tokens=max_tokens, seed=seed)
    for i in range(0, len(problems), batch):
        chunk = list(problems[i : i + batch])
        questions = [HINT_TEMPLATE.format(question=p.question, answer=p.answer) if hint else p.question for p in chunk]
        groups = sample_groups(gen, chunk, params, prompts=[gen.render(q) for q in questions])
        ok = groups.unflatten(accuracy_fn(groups.flat_owners, groups.texts))
        for p, group, flags in zip(chunk, groups.outputs, ok):
            rates[p.id] = sum(map(bool, flags)) / k
            kept: list[str] = []
            for c, good in zip(group, flags):
                if good and c.finish_reason != "length" and c.text not in kept:
                    kept.append(c.text)
            for text in kept[: keep_per_problem or None]:
                records.append({"id": p.id, "question": p.question, "response": text})
    return records, rates


def failed_traces(
    gen, problems: Sequence[Problem], accuracy_fn: Callable, *, k: int, temperature: float, max_tokens: int, seed: int
) -> dict[str, dict[str, list[str]]]:
    """{problem id: {"good": [...], "bad": [...]}} — material for DPO pairs."""
    params = SamplingParams(n=k, temperature=temperature, max_tokens=max_tokens, seed=seed)
    groups = sample_groups(gen, problems, params)
    ok = groups.unflatten(accuracy_fn(groups.flat_owners, groups.texts))
    by_id: dict[str, dict[str, list[str]]] = {}
    for p, group, flags in zip(problems, groups.outputs, ok):
        slot = by_id.setdefault(p.id, {"good": [], "bad": []})
        for c, good in zip(group, flags):
            slot["good" if good else "bad"].append(c.text)
    return by_id
