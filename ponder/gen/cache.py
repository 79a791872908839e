"""A generation cache: a Generator wrapper that remembers completions keyed by (model name,
prompt, sampling params incl. the prompt's own seed and n, occurrence of the prompt within the
call), so that a
search can be re-run — re-scored with another scorer, re-aggregated, or evaluated again —
without generating again. Replaying the same search with the same seed makes the same calls and
hits the cache. Only the missing prompts of a call go to the wrapped generator (still one call,
each prompt with the seed it has in the whole call).

Completions keep their token counts, so the Cost of a replayed search is the cost of the
original generation (what the result would cost to produce); `hits` / `misses` say how much was
actually generated. `path` persists the cache as jsonl (appended per call, read on start).
Left out: eviction, and sharing one file between processes writing at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from ponder.types import Completion, Generator, SamplingParams


def cache_key(model: str, prompt: str, params: SamplingParams, occurrence: int = 0) -> str:
    """Stable key of one prompt's completions under one set of sampling params."""
    fields = dataclasses.asdict(params)
    if not fields["token_stats"]:
        del fields["token_stats"]  # keys written before the field existed stay valid
    blob = json.dumps([model, prompt, fields, occurrence], sort_keys=True, default=list)
    return hashlib.sha256(blob.encode()).hexdigest()


class CachedGenerator:
    def __init__(self, gen: Generator, path: str | Path | None = None):
        self.gen = gen
        self.name = gen.name
        self.n_params = gen.n_params
        self.path = Path(path) if path else None
        self.store: dict[str, list[Completion]] = {}
        self.hits = 0
        self.misses = 0
        if self.path and self.path.is_file():
            self._load()

    def render(self, question: str) -> str:
        return self.gen.render(question)

    def _load(self) -> None:
        from ponder.io import read_jsonl

        for rec in read_jsonl(self.path):
            self.store[rec["key"]] = [Completion(**c) for c in rec["completions"]]

    def _save(self, new: dict[str, list[Completion]]) -> None:
        if not self.path or not new:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:  # append-only: a crash loses at most this call
            for key, comps in new.items():
                f.write(json.dumps({"key": key, "completions": [dataclasses.asdict(c) for c in comps]}) + "\n")

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        seen: dict[str, int] = {}
        keys = []
        for j, p in enumerate(prompts):  # each prompt keyed by its own seed
            keys.append(cache_key(self.name, p, params.for_prompts(len(prompts), [j]), seen.get(p, 0)))
            seen[p] = seen.get(p, 0) + 1
        missing = [j for j, k in enumerate(keys) if k not in self.store]
        self.hits += len(prompts) - len(missing)
        self.misses += len(missing)
        if missing:
            outs = self.gen.generate([prompts[j] for j in missing], params.for_prompts(len(prompts), missing))
            new = {keys[j]: out for j, out in zip(missing, outs)}
            self.store.update(new)
            self._save(new)
        return [[dataclasses.replace(c) for c in self.store[k]] for k in keys]
