"""Expert iteration that learns by DPO (`ponder train expert --learn=dpo`): each round the search
runs K times per problem with the live policy, and every finished path of its trees (not only the
one it picked) is a candidate; candidates are verified, the correct ones pass `ponder data`'s
filters and become *chosen*, the wrong ones *rejected*, paired per problem (train/dpo.py
`make_pairs`), and the policy takes DPO steps against the starting model as the frozen
reference. Round R's pairs are written to run.out/pairs-R.jsonl and read back on resume.

The round loop, evaluation and round table are expert.py's. Left out: moving the reference to
each round's start (iterative DPO's other choice), pairing by shared prefix (step-level DPO).
"""

from __future__ import annotations

import logging
from pathlib import Path

from ponder.config import to_dict
from ponder.io import read_jsonl, write_jsonl
from ponder.train.data import load_problems
from ponder.train.dpo import dpo_step, make_pairs
from ponder.train.evaluate import held_out_problems
from ponder.train.session import Session
from ponder.train.sft import IndexStream
from ponder.types import PonderError

log = logging.getLogger(__name__)


def tree_candidates(sess: Session, cfg, problems: list, seed: int) -> list[dict]:
    """Verified records of every distinct finished path of the K searches' trees, per problem."""
    from ponder.data.rollouts import rollout_record, verify_records
    from ponder.search import run_search
    from ponder.search.tree import path_text

    recs: list[dict] = []
    for i in range(0, len(problems), cfg.search_batch):
        chunk = problems[i : i + cfg.search_batch]
        runs = [run_search(cfg.strategy, chunk, sess.gen, seed=seed + j, budget=cfg.budget, scorer=cfg.scorer,
                           scorer_options=cfg.scorer_options or None, **cfg.options) for j in range(cfg.k)]  # fmt: skip
        for n, p in enumerate(chunk):
            texts: list[str] = []
            for res in (run[n] for run in runs):
                leaves = [path_text(res.tree, node.id) for node in res.tree if node.terminal]
                texts += [t for t in [res.response, *leaves] if t and t not in texts]
            prompt = sess.gen.render(p.question)
            recs += [rollout_record(p, prompt, t, {}, {"strategy": cfg.strategy}) for t in texts]
    verify_records({p.id: p for p in problems}, recs)
    return recs


def round_pairs(sess: Session, cfg, problems: list, rnd: int) -> list[dict]:
    """Round rnd's (chosen, rejected) pairs: built now, or read back from pairs-R.jsonl."""
    from ponder.data.build import filter_context, label_pass_rates
    from ponder.data.filters import apply_filters

    path = Path(cfg.run.out) / f"pairs-{rnd}.jsonl"
    if not path.is_file():
        recs = tree_candidates(sess, cfg, problems, cfg.run.seed * 7919 + rnd)
        label_pass_rates(recs)
        ctx = filter_context(cfg, {p.id: p for p in problems}, max_chars=10**9)
        good, counts = apply_filters([dict(r) for r in recs], cfg.filters, ctx)
        by_id = {p.id: {"good": [], "bad": []} for p in problems}
        for r in good:
            by_id[r["problem_id"]]["good"].append(r["response"])
        for r in recs:
            if not r["correct"]:
                by_id[r["problem_id"]]["bad"].append(r["response"])
        pairs = make_pairs(by_id, {p.id: p.question for p in problems}, per_problem=cfg.pairs_per_problem,
                           seed=cfg.run.seed + rnd)  # fmt: skip
        stats = {"pass_rate": sum(bool(r["correct"]) for r in recs) / max(len(recs), 1), "candidates": len(recs),
                 "chosen": len(good), "pairs": len(pairs), "removed": {c["filter"]: c["removed"] for c in counts}}  # fmt: skip
        write_jsonl(path, pairs or [{"empty": True}])
        sess.extra[f"round_{rnd}"] = stats
        log.info("round %d: %s", rnd, stats)
    return [r for r in read_jsonl(path) if "chosen" in r]


def train_expert_dpo(cfg, every_eval: int, **session_kwargs) -> dict:
    """The DPO round loop; returns the summary (expert.py adds the round table)."""
    cfg.run.steps = cfg.rounds * cfg.steps_per_round
    problems = load_problems(cfg.data)
    sess = Session.open(cfg.model, cfg.optim, cfg.run, total_steps=cfg.run.steps, train=cfg.train, **session_kwargs)
    sess.ref = sess.load_ref(cfg.model)  # the starting model, frozen (taken before a checkpoint loads)
    sess.resume(to_dict(cfg))
    state: dict = {"pairs": []}

    def step_fn(step: int) -> dict:
        rnd = (step - 1) // cfg.steps_per_round
        if (step - 1) % cfg.steps_per_round == 0 or not state["pairs"]:
            with sess.dist.main_first():  # rank 0 searches, the others read the pairs
                state["pairs"] = round_pairs(sess, cfg, problems, rnd)
            if not state["pairs"]:
                raise PonderError(f"expert round {rnd}: no problem has both a verified and a wrong path; raise k")
            sess.stream = sess.shard(IndexStream(len(state["pairs"]), cfg.run.seed + rnd))
        return {**dpo_step(sess, cfg, state["pairs"]), "round": rnd, "pairs": len(state["pairs"])}

    summary = {"config": to_dict(cfg), "start_step": sess.step, "rounds": sess.extra}
    held_out = held_out_problems(cfg.data.task, cfg.eval, cfg.data.level)
    return sess.train_and_report(step_fn, summary, label="expert-dpo", status_key="pref_acc", held_out=held_out,
                                 max_tokens=cfg.max_tokens, every_eval=every_eval)  # fmt: skip
