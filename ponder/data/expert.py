"""Expert iteration, search -> learn (Anthony et al. 2017; the self-evolution loop of rStar-Math,
Guan et al. 2025): each round, a search strategy guided by a verifier (beam or MCTS with the
executable step checker, or with a trained PRM) writes K traces per problem with the current
policy; the traces are verified and passed through `ponder data`'s filters (correct, length,
duplicates, format, language, steps); the policy is fine-tuned on everything kept so far; the
next round searches with the improved policy. Search is a stronger teacher than the policy's
own samples, so each round is distillation from search.

    ponder train expert --data.task=countdown --strategy=beam --budget=8 --scorer=check --rounds=3

The rounds reuse RFT's loop (train/rft.py): round R's kept records are written to
run.out/round-R.jsonl and read back on resume, checkpoints fall at every round's end, and the
held-out greedy accuracy is measured before the first round and after each one (metrics.jsonl
rows `eval/accuracy` at steps R x steps_per_round; the summary's `rounds` table, with each
round's pass rate and what each filter removed).

With `learn: dpo` the round learns by DPO on chosen (verified, filtered) against rejected (wrong)
paths of the search trees instead (expert_dpo.py).

Left out: re-starting from the base model each round, mixing in earlier SFT data.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ponder.train.evaluate import EvalConfig
from ponder.train.rft import RFTConfig, run_rounds
from ponder.train.session import Session
from ponder.types import PonderError

log = logging.getLogger(__name__)

EXPERT_FILTERS = ["correct", "length", "exact_dup", "format", "language", "steps"]


@dataclass
class ExpertConfig(RFTConfig):
    """Expert iteration: search with a verifier, keep the verified and filtered traces, fine-tune, repeat.

    strategy: the search that writes the traces (beam, mcts, best_of_n, ...; sample: plain sampling, i.e. RFT)
    budget: the strategy's budget per search
    scorer: what guides the search: check (the executable step checker), prm (a trained PRM), ...
    scorer_options: the scorer's options, e.g. --scorer-options.path=runs/prm
    options: the strategy's options, e.g. --options.width=4
    search_batch: problems per search call
    filters: ponder data filters applied to each round's traces, in order
    prm: a trained PRM folder for the steps filter (null: the executable step checker)
    step_threshold: the steps filter drops a trace with a step scored below this
    language: the language filter's target script
    min_language: the language filter's minimum share of words in that script
    learn: sft (fine-tune on the kept traces) | dpo (chosen vs rejected paths of the search trees)
    beta: DPO's inverse temperature (learn: dpo)
    pairs_per_problem: (chosen, rejected) pairs per problem and round (learn: dpo)
    """

    strategy: str = "beam"
    budget: int = 4
    scorer: str | None = "check"
    scorer_options: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    search_batch: int = 16
    filters: list[str] = field(default_factory=lambda: list(EXPERT_FILTERS))
    prm: str | None = None
    step_threshold: float = 0.5
    language: str = "en"
    min_language: float = 0.9
    learn: Literal["sft", "dpo"] = "sft"
    beta: float = 0.1
    pairs_per_problem: int = 2
    eval: EvalConfig = field(default_factory=lambda: EvalConfig(n=100))

    def __post_init__(self) -> None:
        from ponder.data.filters import FILTERS

        if self.rounds < 1 or self.steps_per_round < 1 or self.k < 1 or self.search_batch < 1:
            raise PonderError("rounds, steps_per_round, k and search_batch must be >= 1")
        for name in self.filters:
            FILTERS.get(name)  # an unknown filter lists the known ones
        if self.strategy != "sample":
            from ponder.search import SCORERS, STRATEGIES
            from ponder.search.engine import check_budget, check_options

            check_budget(self.budget)
            check_options(self.strategy, STRATEGIES.get(self.strategy), dict(self.options))
            if self.scorer is not None:
                SCORERS.get(self.scorer)


def _rollouts(sess: Session, cfg: ExpertConfig, problems: list, seed: int) -> list[dict]:
    """K traces per problem from the search (or sampling) with the live policy, verified."""
    from ponder.data.rollouts import sample_chunk, search_chunk, verify_records

    recs: list[dict] = []
    for i in range(0, len(problems), cfg.search_batch):
        chunk = problems[i : i + cfg.search_batch]
        if cfg.strategy == "sample":
            recs += sample_chunk(sess.gen, chunk, cfg.k, cfg.temperature, cfg.max_tokens, seed)
        else:
            recs += search_chunk(sess.gen, chunk, cfg.k, cfg.strategy, seed, budget=cfg.budget, scorer=cfg.scorer,
                                 scorer_options=cfg.scorer_options or None, **cfg.options)  # fmt: skip
    verify_records({p.id: p for p in problems}, recs)
    return recs


def expert_round_data(sess: Session, cfg: ExpertConfig, problems, rnd: int) -> tuple[list[dict], dict]:
    """One round's traces: search, verify, filter. Returns (kept records, per-round stats)."""
    from ponder.data.build import filter_context, label_pass_rates
    from ponder.data.filters import apply_filters

    recs = _rollouts(sess, cfg, list(problems), cfg.run.seed * 7919 + rnd)
    label_pass_rates(recs)
    ctx = filter_context(cfg, {p.id: p for p in problems}, max_chars=10**9)
    kept, counts = apply_filters([dict(r) for r in recs], cfg.filters, ctx)
    n = max(len(recs), 1)
    stats = {
        "pass_rate": sum(bool(r["correct"]) for r in recs) / n,
        "rollouts": len(recs),
        "kept": len(kept),
        "kept_problems": len({r["problem_id"] for r in kept}),
        "removed": {c["filter"]: c["removed"] for c in counts},
        "search_tokens": sum(r["cost"].get("generated_tokens", 0) for r in recs),
    }
    return kept, stats


def round_table(out: str | Path, steps_per_round: int, rounds: dict) -> list[dict]:
    """Held-out accuracy before round 1 (round 0) and after each round, from metrics.jsonl, joined
    with each round's search stats."""
    rows: dict[int, dict] = {}
    path = Path(out) / "metrics.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        m = json.loads(line)
        if "eval/accuracy" in m and m["step"] % steps_per_round == 0:
            rows[m["step"] // steps_per_round] = {k[5:]: v for k, v in m.items() if k.startswith("eval/")}
    table = []
    for r in sorted(rows):
        stats = rounds.get(f"round_{r - 1}", {}) if r else {}
        table.append({"round": r, **rows[r], **{k: v for k, v in stats.items() if k != "removed"}})
    return table


def train_expert(cfg: ExpertConfig, **session_kwargs) -> dict:
    """Run (or resume) expert iteration; returns the summary also written to run.out/summary.json."""
    from ponder.io import write_json

    every = cfg.eval.every or cfg.steps_per_round
    if cfg.learn == "dpo":
        from ponder.data.expert_dpo import train_expert_dpo

        summary = train_expert_dpo(cfg, every, **session_kwargs)
    else:
        summary = run_rounds(cfg, expert_round_data, "expert", every_eval=every, **session_kwargs)
    summary["round_accuracy"] = round_table(cfg.run.out, cfg.steps_per_round, summary.get("rounds", {}))
    if os.environ.get("RANK", "0") == "0":  # under torchrun rank 0 writes, as Session does
        write_json(f"{cfg.run.out}/summary.json", summary)
    return summary
