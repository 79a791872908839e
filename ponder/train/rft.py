"""Rejection-sampling fine-tuning (RFT; Yuan et al. 2023, "Scaling relationship on learning
mathematical reasoning with LLMs"): sample K traces per problem from the current model, keep the
verified ones (distinct texts, not truncated), fine-tune on everything kept so far, repeat for
`rounds` rounds. Each round's data is written to run.out/round-R.jsonl and read back on resume,
so a resumed run trains on the data it sampled before it was killed.

`round_data` is the seam STaR (star.py) widens with rationalisation. Left out: re-starting from
the base model every round (STaR's original choice), mixing in the original SFT data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ponder.config import to_dict
from ponder.io import read_jsonl, write_jsonl
from ponder.train.common import ModelConfig, OptimConfig, RunConfig, TrainConfig
from ponder.train.data import DataConfig, Example, load_problems
from ponder.train.distill import sample_verified
from ponder.train.evaluate import EvalConfig, held_out_problems
from ponder.train.session import Session
from ponder.train.sft import IndexStream, sft_step
from ponder.types import PonderError

log = logging.getLogger(__name__)


@dataclass
class RFTConfig:
    """Rejection-sampling fine-tuning: sample, keep verified answers, fine-tune, repeat.

    rounds: sample-then-train rounds
    steps_per_round: optimiser steps per round
    k: samples per problem
    temperature: sampling temperature
    max_tokens: token limit of each sample
    batch_size: examples per optimiser step
    micro_batch: examples per forward/backward
    packing: pack several examples into one sequence
    max_len: longest sequence in tokens
    """

    rounds: int = 3
    steps_per_round: int = 50
    k: int = 8  # samples per problem
    temperature: float = 1.0
    max_tokens: int = 256
    batch_size: int = 32
    micro_batch: int = 32
    packing: bool = True
    max_len: int = 512
    data: DataConfig = field(default_factory=lambda: DataConfig(n=256))
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-4))
    run: RunConfig = field(default_factory=RunConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def round_data(sess: Session, cfg: RFTConfig, problems, rnd: int) -> tuple[list[dict], dict[str, float]]:
    """RFT: verified samples of the current model. Returns (records, per-round stats)."""
    recs, rates = sample_verified(
        sess.gen,
        problems,
        sess.accuracy_fn,
        k=cfg.k,
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        seed=cfg.run.seed * 7919 + rnd,
    )
    return recs, {"pass_rate": sum(rates.values()) / max(len(rates), 1), "kept": len(recs)}


def _round_examples(sess: Session, cfg, problems, rnd: int, make_round: Callable) -> list[Example]:
    """Records of rounds 0..rnd (sampled now for rnd, read back for earlier ones) as SFT examples."""
    path = Path(cfg.run.out) / f"round-{rnd}.jsonl"
    if not path.is_file():
        recs, stats = make_round(sess, cfg, problems, rnd)
        write_jsonl(path, recs or [{"empty": True}])
        sess.extra[f"round_{rnd}"] = stats  # saved in checkpoints and reported in the summary
        log.info("round %d: %s", rnd, stats)
    seen, examples = set(), []
    for r in range(rnd + 1):
        for rec in read_jsonl(Path(cfg.run.out) / f"round-{r}.jsonl"):
            key = (rec.get("question"), rec.get("response"))
            if "response" in rec and key not in seen:
                seen.add(key)
                examples.append(Example(sess.render(rec["question"]), rec["response"]))
    return examples


def run_rounds(cfg, make_round: Callable, label: str, *, every_eval: int = 0, **session_kwargs) -> dict:
    """The shared outer loop of RFT, STaR and expert iteration (data/expert.py): sample a round's
    data, fine-tune, repeat; held-out accuracy every `every_eval` steps (0: before and after)."""
    cfg.run.steps = cfg.rounds * cfg.steps_per_round
    problems = load_problems(cfg.data)
    sess = Session.open(cfg.model, cfg.optim, cfg.run, total_steps=cfg.run.steps, train=cfg.train, **session_kwargs)
    sess.resume(to_dict(cfg))
    state = {"examples": []}

    def step_fn(step: int) -> dict:
        rnd = (step - 1) // cfg.steps_per_round
        if (step - 1) % cfg.steps_per_round == 0 or not state["examples"]:
            with sess.dist.main_first():  # rank 0 samples the round, the others read it
                state["examples"] = _round_examples(sess, cfg, problems, rnd, make_round)
            if not state["examples"]:
                raise PonderError(f"{label} round {rnd}: no verified traces to train on; raise k or lower the level")
            sess.stream = sess.shard(IndexStream(len(state["examples"]), cfg.run.seed + rnd))
        m = sft_step(
            sess,
            state["examples"],
            batch_size=cfg.batch_size,
            micro_batch=cfg.micro_batch,
            packing=cfg.packing,
            max_len=cfg.max_len,
            grad_clip=cfg.optim.grad_clip,
        )
        return {**m, "round": rnd, "examples": len(state["examples"])}

    summary = {"config": to_dict(cfg), "start_step": sess.step, "rounds": sess.extra}
    held_out = held_out_problems(cfg.data.task, cfg.eval, cfg.data.level)
    return sess.train_and_report(step_fn, summary, label=label, status_key="loss", held_out=held_out,
                                 max_tokens=cfg.max_tokens, every_eval=every_eval)  # fmt: skip


def train_rft(cfg: RFTConfig, **kwargs) -> dict:
    return run_rounds(cfg, round_data, "rft", **kwargs)
