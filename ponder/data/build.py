"""The `ponder data` run: rollouts (resumable) -> pass rates and difficulty labels -> filters in
order -> OUT/data.jsonl, the data card, and optionally a Hugging Face `datasets` folder.
Left out: streaming the filters over a data set larger than memory."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any

from ponder.io import write_jsonl

log = logging.getLogger(__name__)


def _prompted_generator(cfg, task: str | None):
    """The policy with the prompt the run asks for (built where the executor runs a chunk)."""
    from ponder.gen import load_generator
    from ponder.prompts import prompted

    return prompted(load_generator(cfg.model, backend=cfg.backend, **cfg.gen_options), cfg.model, task, cfg.prompt)


def _rollout(chunk, cache: dict, cfg, make_gen):
    """One chunk's rollouts where the executor runs it; the generator is built once per worker."""
    from ponder.data.rollouts import sample_chunk, search_chunk
    from ponder.executor import cached

    gen = cached(cache, "data-gen", make_gen)
    if cfg.strategy == "sample":
        return sample_chunk(gen, chunk, cfg.k, cfg.temperature, cfg.max_tokens, cfg.seed)
    return search_chunk(gen, chunk, cfg.k, cfg.strategy, cfg.seed, budget=cfg.budget, scorer=cfg.scorer,
                        scorer_options=cfg.scorer_options or None, **cfg.options)  # fmt: skip


def step_scorer(prm: str | None, problems: dict):
    """records -> per-step scores, from the PRM folder `prm` or the executable step checker."""
    from ponder.steps import split_steps

    if prm:
        from ponder.search import SCORERS

        scorer = SCORERS.build("prm", path=prm)
    else:
        from ponder.search.scorers.check import StepChecker

        scorer = StepChecker()

    def score(recs: list[dict]) -> list[list[float]]:
        return scorer.score_steps([problems[r["problem_id"]] for r in recs], [split_steps(r["response"]) for r in recs])

    return score


def filter_context(cfg: Any, problems: dict, **overrides: Any):
    """The filters' FilterContext from a config: every bound the config has (the others keep their
    defaults), `overrides` on top, and the step scorer of cfg.prm (a PRM folder, or the checker)."""
    from dataclasses import fields

    from ponder.data.filters import FilterContext

    given = {
        f.name: getattr(cfg, f.name) for f in fields(FilterContext) if f.name != "score_steps" and hasattr(cfg, f.name)
    }
    return FilterContext(**{**given, **overrides}, score_steps=step_scorer(cfg.prm, problems))


def label_pass_rates(rollouts: list[dict]) -> None:
    """Set meta.pass_rate (share of the problem's rollouts that verified) and meta.difficulty."""
    from ponder.data.filters import difficulty

    tally: dict[str, list[int]] = {}
    for r in rollouts:
        t = tally.setdefault(r["problem_id"], [0, 0])
        t[0] += bool(r["correct"])
        t[1] += 1
    for r in rollouts:
        ok, n = tally[r["problem_id"]]
        r["meta"]["pass_rate"] = ok / n
        r["meta"]["difficulty"] = difficulty(ok / n)


def _progress(total: int, done: int, quiet: bool):
    """(callback per chunk, close) — a rich bar on stderr unless quiet."""
    if quiet:
        return (lambda n: None), (lambda: None)
    from rich.progress import Progress

    bar = Progress(transient=True)
    bar.start()
    task = bar.add_task("rollouts", total=total, completed=done)
    return (lambda n: bar.advance(task, n)), bar.stop


def export_hf(out: Path, records: list[dict]) -> bool:
    """OUT/hf as a `datasets` folder; False (with a warning) when `datasets` is not installed."""
    try:
        import datasets
    except ImportError:
        log.warning("--hf: the `datasets` package is not installed; wrote JSONL only")
        return False
    flat = [{**r, "cost": dict(r["cost"]), "meta": {k: str(v) for k, v in r["meta"].items()}} for r in records]
    datasets.Dataset.from_list(flat).save_to_disk(str(out / "hf"))
    return True


def build(cfg, problems: list, out: Path, source: dict[str, Any]) -> dict[str, Any]:
    """Run it all; returns the data card."""
    from ponder.data.card import build_card, write_card
    from ponder.data.filters import apply_filters
    from ponder.data.rollouts import collect, read_done
    from ponder.executor import make_executor

    path = out / "rollouts.jsonl"
    have = {r["problem_id"] for r in read_done(path, cfg.k)}
    todo = sum(p.id not in have for p in problems)
    make_gen = partial(_prompted_generator, cfg, problems[0].task if problems else None)
    advance, close = _progress(len(problems), len(problems) - todo, cfg.quiet)
    try:
        with make_executor(cfg) if todo else nullcontext(None) as ex:
            rollout = partial(_rollout, cfg=cfg, make_gen=make_gen)
            rollouts = collect(path, problems, cfg.k, rollout, batch=cfg.batch, on_chunk=advance, executor=ex)
    finally:
        close()
    label_pass_rates(rollouts)
    by_id = {p.id: p for p in problems}
    ctx = filter_context(cfg, by_id)
    kept, counts = apply_filters([dict(r) for r in rollouts], cfg.filters, ctx)
    write_jsonl(out / "data.jsonl", kept)
    card = build_card(source, rollouts, kept, counts)
    if cfg.hf:
        card["hf"] = export_hf(out, kept)
    write_card(out, card)
    return card
