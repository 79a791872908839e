"""Reflection on the tiny reasoner (benchmarks/tiny_science.py, part 3): `wait`-forcing and the
reflection prompt against plain greedy, and what the model writes after `wait`.

`wait`-forcing: budget forcing in `wait` mode, greedy (s1's "Wait"): when the model closes its
thinking, `</think>` is replaced once by `wait_text` (default "\\nwait ", the reflection token the
tiny reasoner's traces use) and it goes on, then must answer; a thinking cap of `think_tokens`.
Reflection prompt: `refine` with `critic="self"`, two rounds: the greedy response, then the
prompt "Wait! Maybe I made some mistakes! ..." and a new sampled response; the last answer counts.
Each forced continuation is classed against the answer forced right after the same thought
(budget_forcing at budget 1, which shares the first thinking call):
  fix        that answer wrong, the answer after `wait` right;
  derailment that answer right, the answer after `wait` wrong;
  confirmation  same correctness and the first line after `wait` repeats a line already written;
  other      same correctness, new text (a different wrong answer, or a right one re-derived).
Problems where no `wait` went in (the model hit the cap without closing) are counted apart.
Left out: sampled forcing (temperature > 0) and more than one `wait` (the curves run budget 4).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ponder.search import run_search
from ponder.steps import THINK_CLOSE, THINK_OPEN, WAIT
from ponder.types import Problem, SearchResult
from ponder.verify import verify

KINDS = ("confirmation", "fix", "derailment", "other")


def lines_of(text: str) -> list[str]:
    """Non-empty lines of a thought, tags and a leading `wait ` stripped."""
    out = []
    for line in text.replace(THINK_OPEN, "").replace(THINK_CLOSE, "").split("\n"):
        line = line.strip()
        line = line[len(WAIT) :].strip() if line.startswith(WAIT) else line
        if line:
            out.append(line)
    return out


def forced_parts(result: SearchResult) -> tuple[str, str] | None:
    """(thought before the forced `wait`, what the model wrote right after it), or None when the
    search inserted no `wait`. Reads the chosen path of the tree."""
    path = [n for n in result.tree if n.chosen]
    at = next((j for j, n in enumerate(path) if n.meta.get("forced") == "wait"), None)
    if at is None or at + 1 >= len(path):
        return None
    return "".join(n.text for n in path[1:at]), path[at + 1].text


def classify(before_ok: bool, after_ok: bool, before: str, after: str) -> str:
    if before_ok != after_ok:
        return "fix" if after_ok else "derailment"
    first = lines_of(after)[:1]
    return "confirmation" if first and first[0] in lines_of(before) else "other"


def shares(kinds: list[str]) -> dict[str, Any]:
    counts = Counter(kinds)
    n = len(kinds)
    return {"n": n, **{k: {"count": counts[k], "share": round(counts[k] / n, 4) if n else None} for k in KINDS}}


def wait_study(problems: list[Problem], gen, wait_text: str, think_tokens: int) -> dict:
    """`wait`-forcing, with each continuation classed against the answer the same thought gets
    when the answer is forced at once (budget 1: the same first thinking call, from the cache)."""
    opts = {"seed": 0, "mode": "wait", "wait_text": wait_text, "think_tokens": think_tokens}
    plain = run_search("budget_forcing", problems, gen, budget=1, **opts)
    forced = run_search("budget_forcing", problems, gen, budget=2, **opts)
    before = [s.correct for s in verify(problems, [r.response for r in plain])]
    after = [s.correct for s in verify(problems, [r.response for r in forced])]
    kinds, examples, no_wait = [], {k: [] for k in KINDS}, 0
    for b, a, r in zip(before, after, forced):
        parts = forced_parts(r)
        if parts is None:
            no_wait += 1
            continue
        kind = classify(b, a, *parts)
        kinds.append(kind)
        if len(examples[kind]) < 2:
            examples[kind].append(r.response)
    return {
        "wait_text": wait_text, "think_tokens": think_tokens,
        "before": "".join("1" if ok else "0" for ok in before), "after": "".join("1" if ok else "0" for ok in after),
        "tokens": sum(r.cost.generated_tokens for r in forced) / len(problems),
        "no_wait_inserted": no_wait, "continuations": shares(kinds), "examples": examples,
    }  # fmt: skip


def reflection_study(problems: list[Problem], gen, greedy: list[SearchResult]) -> dict:
    """The reflection prompt (refine, critic=self, 2 rounds) against greedy on the same problems."""
    res = run_search("refine", problems, gen, budget=2, seed=0, critic="self")
    before = [s.correct for s in verify(problems, [r.response for r in greedy])]
    after = [s.correct for s in verify(problems, [r.response for r in res])]
    same = sum(r.answer == g.answer for r, g in zip(res, greedy))
    kinds = ["fix" if a and not b else "derailment" if b and not a else "kept" for b, a in zip(before, after)]
    return {
        "after": "".join("1" if ok else "0" for ok in after),
        "tokens": sum(r.cost.generated_tokens for r in res) / len(problems),
        "answer_unchanged": same, "fix": kinds.count("fix"), "derailment": kinds.count("derailment"),
        "examples": [r.response for r in res[:2]],
    }  # fmt: skip
