"""DPO (Rafailov et al. 2023) on verified pairs: for each problem, sample K traces from the
starting model, pair verified-correct traces (chosen) with failed ones (rejected) of the same
problem, and optimise the DPO loss against a frozen copy of the starting model (the reference).
Pairs are built once (offline DPO) and written to run.out/pairs.jsonl, read back on resume.

Under torchrun rank 0 builds the pairs, each rank trains on batch_size / W of every batch.

Left out: online/iterative DPO, IPO/KTO losses, label smoothing (conservative DPO).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ponder.config import to_dict
from ponder.io import read_jsonl, write_jsonl
from ponder.train.batch import collate, encode_example, forward_logprobs, sequence_logprob
from ponder.train.common import ModelConfig, OptimConfig, RunConfig, TrainConfig
from ponder.train.data import DataConfig, load_problems
from ponder.train.distill import failed_traces
from ponder.train.evaluate import EvalConfig, held_out_problems
from ponder.train.losses import dpo_loss
from ponder.train.session import Session
from ponder.train.sft import IndexStream
from ponder.types import PonderError


@dataclass
class DPOConfig:
    """DPO on pairs of verified-correct and wrong samples of the policy.

    beta: DPO's inverse temperature
    k: samples per problem to build pairs from
    pairs_per_problem: (chosen, rejected) pairs kept per problem
    temperature: sampling temperature
    max_tokens: token limit of each sample
    batch_size: pairs per optimiser step
    micro_batch: pairs per forward/backward
    """

    beta: float = 0.1
    k: int = 8  # samples per problem to build pairs from
    pairs_per_problem: int = 2
    temperature: float = 1.0
    max_tokens: int = 256
    batch_size: int = 16  # pairs per optimiser step
    micro_batch: int = 16
    data: DataConfig = field(default_factory=lambda: DataConfig(n=256))
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-5))
    run: RunConfig = field(default_factory=RunConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def make_pairs(
    by_id: dict[str, dict[str, list[str]]], questions: dict[str, str], *, per_problem: int, seed: int
) -> list[dict]:
    """{"question", "chosen", "rejected"} records; problems with no correct or no failed trace give none."""
    rng, out = random.Random(seed), []
    for pid, slot in by_id.items():
        good, bad = sorted(set(slot["good"])), sorted(set(slot["bad"]))
        for _ in range(min(per_problem, len(good), len(bad)) if good and bad else 0):
            out.append({"id": pid, "question": questions[pid], "chosen": rng.choice(good), "rejected": rng.choice(bad)})
    return out


def _pairs(sess: Session, cfg: DPOConfig) -> list[dict]:
    path = Path(cfg.run.out) / "pairs.jsonl"
    if not path.is_file():
        problems = load_problems(cfg.data)
        by_id = failed_traces(
            sess.gen,
            problems,
            sess.accuracy_fn,
            k=cfg.k,
            temperature=cfg.temperature,
            max_tokens=cfg.max_tokens,
            seed=cfg.run.seed,
        )
        pairs = make_pairs(
            by_id, {p.id: p.question for p in problems}, per_problem=cfg.pairs_per_problem, seed=cfg.run.seed
        )
        if not pairs:
            raise PonderError("DPO found no problem with both a correct and a failed trace; change data.level or k")
        write_jsonl(path, pairs)
    return read_jsonl(path)


def dpo_step(sess: Session, cfg: DPOConfig, pairs: list[dict]) -> dict[str, float]:
    """One optimiser step on the next batch_size pairs (this rank's share under torchrun); the
    loss is the mean over the global batch."""
    t0 = time.perf_counter()
    eng, local = sess.engine, sess.dist.split(cfg.batch_size, "batch_size")
    picked = [pairs[sess.stream.at(i)] for i in range(sess.cursor, sess.cursor + local)]
    sess.cursor += local
    tot = {"loss": 0.0, "margin": 0.0, "pref_acc": 0.0}
    for i in range(0, len(picked), cfg.micro_batch):
        chunk = picked[i : i + cfg.micro_batch]
        prompts = [sess.render(r["question"]) for r in chunk]
        seqs = [
            encode_example(sess.tokenizer, p, r[key], eos=True)
            for key in ("chosen", "rejected")
            for p, r in zip(prompts, chunk)
        ]
        batch = collate(seqs, sess.tokenizer.pad_token_id).to(sess.dist.device)
        with eng.accumulating(sess.model, last=i + cfg.micro_batch >= len(picked)):
            with eng.autocast():
                logp = sequence_logprob(forward_logprobs(sess.model, batch)[0], batch.loss_mask)  # (2b,) fp32
                with torch.no_grad():
                    ref = sequence_logprob(forward_logprobs(sess.ref, batch)[0], batch.loss_mask)
            b = len(chunk)
            loss, margin = dpo_loss(logp[:b], logp[b:], ref[:b], ref[b:], beta=cfg.beta)  # (b,)
            eng.backward(loss.sum() / cfg.batch_size)
        tot["loss"] += float(loss.detach().sum()) / cfg.batch_size
        tot["margin"] += float(margin.sum()) / cfg.batch_size
        tot["pref_acc"] += float((margin > 0).float().sum()) / cfg.batch_size
    tot = sess.dist.all_sum(tot)
    tot["grad_norm"] = eng.step(sess.model, sess.opt, sess.sched, cfg.optim.grad_clip)
    tot["step_s"] = time.perf_counter() - t0
    return tot


def train_dpo(cfg: DPOConfig, **session_kwargs) -> dict:
    """Offline DPO on verified pairs; session_kwargs as in train_grpo."""
    sess = Session.open(cfg.model, cfg.optim, cfg.run, total_steps=cfg.run.steps, train=cfg.train, **session_kwargs)
    sess.ref = sess.load_ref(cfg.model)
    sess.resume(to_dict(cfg))
    with sess.dist.main_first():  # rank 0 samples and writes the pairs, the others read them
        pairs = _pairs(sess, cfg)
    sess.stream = sess.shard(IndexStream(len(pairs), cfg.run.seed))
    summary = {"config": to_dict(cfg), "pairs": len(pairs), "start_step": sess.step}
    held_out = held_out_problems(cfg.data.task, cfg.eval, cfg.data.level)
    return sess.train_and_report(
        lambda step: dpo_step(sess, cfg, pairs),
        summary,
        label="dpo",
        status_key="pref_acc",
        held_out=held_out,
        max_tokens=cfg.max_tokens,
    )
