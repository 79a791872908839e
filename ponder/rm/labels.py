"""Step-labelled traces: the record every PRM/ORM dataset in ponder is made of, its jsonl form,
and importers for PRM800K-style and Math-Shepherd-style files.

One jsonl line is one trace:

    {"id": "arithmetic-L4-s0-3#2", "problem": {...Problem.to_dict()...},
     "steps": ["<think>12+7=19\\n", "19*3=57</think>\\n", "<answer>57</answer>"],
     "labels": [1.0, 0.0, 0.0], "kind": "mc-soft", "outcome": 0.0, "delimiter": "\\n", "meta": {}}

`steps` are the generated steps exactly as `ponder.steps.split_steps` cuts them (each keeps its
trailing delimiter; the last may lack it), so prompt + "".join(steps) is the text the policy
wrote. `labels[i]` in [0, 1] is the label of step i (1 = the trace is still on a correct path
after it), or null where the step is unlabelled; it has exactly len(steps) entries. `kind` says
where labels came from: "mc-soft" / "mc-hard" (Monte-Carlo rollouts), "exact" (a task's step
checker), "prm800k" / "math-shepherd" (imported), "outcome" (ORM: only the outcome is known).
`outcome` is the verified outcome of the whole trace (1.0 correct) or null.

Left out: PRM800K's alternative completions per step (only the chosen or first one is kept) and
its phase-1/phase-2 distinction.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ponder.io import read_jsonl
from ponder.steps import STEP_DELIMITER
from ponder.types import PonderError, Problem

KINDS = ("mc-soft", "mc-hard", "exact", "prm800k", "math-shepherd", "outcome")


@dataclass
class LabeledTrace:
    id: str
    problem: Problem
    steps: list[str]
    labels: list[float | None]
    kind: str
    outcome: float | None = None
    delimiter: str = STEP_DELIMITER
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_alignment(self.steps, self.labels, where=f"trace {self.id!r}")
        if self.kind not in KINDS:
            raise PonderError(f"trace {self.id!r}: unknown label kind {self.kind!r}; known: {', '.join(KINDS)}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["problem"] = self.problem.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "record") -> LabeledTrace:
        missing = [k for k in ("id", "problem", "steps", "labels", "kind") if k not in d]
        if missing:
            raise PonderError(f"{where}: step-label record lacks {missing}; see docs/rm.md for the format")
        if not isinstance(d["problem"], dict) or "question" not in d["problem"]:
            raise PonderError(f"{where}: 'problem' must be an object with at least 'question'")
        prob = {"id": d["id"], "task": "", **d["problem"]}
        return cls(
            id=str(d["id"]),
            problem=Problem.from_dict(prob),
            steps=list(d["steps"]),
            labels=list(d["labels"]),
            kind=d["kind"],
            outcome=d.get("outcome"),
            delimiter=d.get("delimiter", STEP_DELIMITER),
            meta=dict(d.get("meta", {})),
        )


def check_alignment(steps: list[str], labels: list[Any], where: str) -> None:
    """Raise unless there is at least one step and exactly one label (or null) per step."""
    if not steps:
        raise PonderError(f"{where} has no steps; a PRM needs at least one step per trace")
    if len(labels) != len(steps):
        raise PonderError(
            f"{where} has {len(steps)} steps but {len(labels)} labels; give exactly one label (or null) per step"
        )
    for i, v in enumerate(labels):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1):
            raise PonderError(f"{where}: label {i} is {v!r}; labels must be numbers in [0, 1] or null")


def read_labels(path: str | Path) -> list[LabeledTrace]:
    """Read a ponder step-label jsonl file; a bad record is an error naming file and line."""
    return [LabeledTrace.from_dict(r, where=f"{path}:{i}") for i, r in enumerate(read_jsonl(path), 1)]


def prefix_labels(step_ok: list[bool | None]) -> list[float | None]:
    """Per-step validity -> "still on a correct path" labels: 1 until the first invalid step, then 0.

    A step that cannot be checked (None) keeps the running value unknown only if nothing before it
    failed: after a failure every later step is 0 (errors propagate), before one it is null.
    """
    out: list[float | None] = []
    failed = False
    for ok in step_ok:
        if ok is False:
            failed = True
        out.append(0.0 if failed else (None if ok is None else 1.0))
    return out


def first_error(labels: list[float | None], threshold: float = 0.5) -> int:
    """Index of the first step labelled below threshold, or -1 when every labelled step is fine
    (ProcessBench's convention)."""
    for i, v in enumerate(labels):
        if v is not None and v < threshold:
            return i
    return -1


def _clean_step(text: str, delimiter: str) -> str:
    """An imported step as one ponder step: inner delimiters become spaces, one delimiter ends it."""
    return text.strip().replace(delimiter, " ") + delimiter


def import_prm800k(path: str | Path, neutral: float = 1.0, delimiter: str = STEP_DELIMITER) -> list[LabeledTrace]:
    """PRM800K-style jsonl: {"question": {"problem", "ground_truth_answer"}, "label": {"steps":
    [{"completions": [{"text", "rating"}], "chosen_completion", "human_completion"}]}}.

    Ratings 1 / 0 / -1 become 1.0 / `neutral` / 0.0; steps stop after the first -1 (PRM800K's
    raters stop there too). Per step the chosen completion is used, else the human one, else the
    first. A record without steps is an error naming its line.
    """
    out = []
    for i, rec in enumerate(read_jsonl(path), 1):
        where = f"{path}:{i}"
        try:
            q, raw_steps = rec["question"], rec["label"]["steps"]
            problem = Problem(
                id=f"prm800k-{i}", task="math", question=q["problem"], answer=q.get("ground_truth_answer")
            )
        except (KeyError, TypeError):
            raise PonderError(f"{where}: not a PRM800K record (needs question.problem and label.steps)") from None
        steps, labels = _prm800k_steps(raw_steps, neutral, delimiter, where)
        out.append(LabeledTrace(f"prm800k-{i}", problem, steps, labels, "prm800k", None, delimiter))
    return out


def _prm800k_steps(raw_steps: list, neutral: float, delimiter: str, where: str) -> tuple[list[str], list]:
    rating_map = {1: 1.0, 0: neutral, -1: 0.0, None: None}
    steps, labels = [], []
    for j, s in enumerate(raw_steps):
        chosen = s.get("chosen_completion")
        if chosen is not None:
            comp = s["completions"][chosen]
        elif s.get("human_completion"):
            comp = s["human_completion"]
            comp = comp if isinstance(comp, dict) else {"text": comp, "rating": 1}
        elif s.get("completions"):
            comp = s["completions"][0]
        else:
            raise PonderError(f"{where}: step {j} has no completion text")
        rating = comp.get("rating")
        if rating not in rating_map:
            raise PonderError(f"{where}: step {j} has rating {rating!r}; PRM800K ratings are -1, 0, 1 or null")
        steps.append(_clean_step(comp["text"], delimiter))
        labels.append(rating_map[rating])
        if rating == -1:
            break
    if not steps:
        raise PonderError(f"{where} has no steps; drop it or fix label.steps")
    return steps, labels


SHEPHERD_TAG = "ки"


def import_math_shepherd(path: str | Path, delimiter: str = STEP_DELIMITER) -> list[LabeledTrace]:
    """Math-Shepherd-style jsonl: {"input": "Q Step 1: .. ки\\nStep 2: .. ки", "label": same text
    with each "ки" replaced by "+" or "-"}. The question is the text before "Step 1:"."""
    out = []
    for i, rec in enumerate(read_jsonl(path), 1):
        where = f"{path}:{i}"
        if not isinstance(rec.get("input"), str) or not isinstance(rec.get("label"), str):
            raise PonderError(f"{where}: not a Math-Shepherd record (needs string fields 'input' and 'label')")
        question, steps, labels = _shepherd_parse(rec["input"], rec["label"], delimiter, where)
        problem = Problem(id=f"shepherd-{i}", task=str(rec.get("task", "math")).lower(), question=question)
        outcome = labels[-1]
        out.append(LabeledTrace(f"shepherd-{i}", problem, steps, labels, "math-shepherd", outcome, delimiter))
    return out


def _shepherd_parse(inp: str, lab: str, delimiter: str, where: str) -> tuple[str, list[str], list[float]]:
    pieces = inp.split(SHEPHERD_TAG)
    if len(pieces) < 2:
        raise PonderError(f"{where} has no steps (no {SHEPHERD_TAG!r} step tags in 'input')")
    labels, pos = [], 0
    for piece in pieces[:-1]:
        pos += len(piece)
        mark = lab[pos : pos + 1]
        if mark not in ("+", "-"):
            raise PonderError(f"{where}: 'label' has {mark!r} where 'input' has a step tag; expected '+' or '-'")
        labels.append(1.0 if mark == "+" else 0.0)
        pos += 1
    first, rest = pieces[0], pieces[1:-1]
    cut = first.find("Step 1:")
    question = first[:cut].strip() if cut > 0 else ""
    steps = [_clean_step(first[cut:] if cut >= 0 else first, delimiter)] + [_clean_step(p, delimiter) for p in rest]
    return question, steps, labels
