"""Supervised fine-tuning and distillation on (prompt, chain-of-thought response) pairs.

Loss: mean negative log-likelihood over response tokens only (the prompt is context), normalised
by the number of response tokens in the whole optimiser batch, so micro-batching is exact. With
`packing`, short examples share rows under a block-diagonal causal mask with restarting
positions (batch.pack), which gives the same loss as unpacked rows with less padding.
Data: a jsonl of {"prompt" | "question", "response"} records (`data.path`), or — distillation —
traces sampled from a teacher Generator on a task's problems and kept when verified
(`teacher.model`). Nothing is cut: an example longer than `max_len` tokens (prompt + response +
EOS) stops the run before training with its record number, or with `data.overlong=drop` is
dropped and counted (`overlong_dropped` in the summary).

Precision, gradient checkpointing, LoRA and data parallelism come from the shared session
(`train:` block, hardware.py). Left out: multi-turn chat data, loss on the prompt, NEFTune and other regularisers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ponder.config import to_dict
from ponder.io import write_jsonl
from ponder.train.batch import Seq, collate, encode_example, forward_logprobs, pack
from ponder.train.common import ModelConfig, OptimConfig, RunConfig, TrainConfig
from ponder.train.data import Example, load_sft
from ponder.train.evaluate import EvalConfig, held_out_problems
from ponder.train.hardware import PLAIN, Engine
from ponder.train.session import Session
from ponder.types import PonderError

log = logging.getLogger(__name__)


@dataclass
class TeacherConfig:
    """Distillation: sample traces from a teacher, keep the verified ones.

    model: a generator (built-in, folder, hub id, http://...) to distil from (null: use data)
    task: task the teacher's problems come from: a task name, a problems .jsonl, or hf:PATH_OR_ID
    level: difficulty level (null: the task's hardest training level)
    n: problems to sample
    k: samples per problem
    temperature: teacher sampling temperature
    max_tokens: token limit of each teacher sample
    seed: seed of the teacher's problems and samples
    """

    model: str | None = None  # a generator name (built-in, folder, hub id, http://...) to distil from
    task: str = "countdown"
    level: int | None = None
    n: int = 500  # problems to sample
    k: int = 4  # samples per problem
    temperature: float = 1.0
    max_tokens: int = 256
    seed: int = 1


@dataclass
class SFTDataConfig:
    """SFT examples from a file.

    path: jsonl of {"prompt"|"question", "response"} (or null with teacher.model set)
    overlong: an example over max_len tokens: stop and name it (error), or drop it
    """

    path: str | None = None  # jsonl of {"prompt"|"question", "response"}
    overlong: Literal["error", "drop"] = "error"  # an example over max_len tokens: stop and name it, or drop it


@dataclass
class SFTConfig:
    """Supervised fine-tuning (and distillation) on prompt/response pairs.

    batch_size: examples per optimiser step
    micro_batch: examples per forward/backward
    packing: pack several examples into one sequence
    max_len: longest sequence in tokens
    eval_task: greedy accuracy on held-out problems of this task (null: none)
    """

    data: SFTDataConfig = field(default_factory=SFTDataConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    batch_size: int = 32  # examples per optimiser step
    micro_batch: int = 32  # examples per forward/backward
    packing: bool = True
    max_len: int = 512
    eval_task: str | None = None  # greedy accuracy on held-out problems of this task
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-3))
    run: RunConfig = field(default_factory=RunConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def sft_loss_backward(
    model, seqs: list[Seq], *, micro_batch: int, packing: bool, max_len: int, pad_id: int, engine: Engine = PLAIN
) -> tuple[float, int]:
    """Forward + backward of the response-token NLL over all micro-batches -> (loss, tokens),
    normalised by the response tokens of the global batch (all ranks)."""
    n_tokens = int(engine.dist.all_sum({"n": sum(len(s.ids) - max(s.start, 1) for s in seqs)})["n"])
    total = 0.0
    for i in range(0, len(seqs), micro_batch):
        chunk = seqs[i : i + micro_batch]
        batch = (pack(chunk, pad_id, max_len) if packing else collate(chunk, pad_id)).to(engine.dist.device)
        with engine.accumulating(model, last=i + micro_batch >= len(seqs)):
            with engine.autocast():
                logp, _ = forward_logprobs(model, batch)  # (b, L-1), fp32
            loss = -(logp * batch.loss_mask).sum() / max(n_tokens, 1)
            engine.backward(loss)
        total += float(loss.detach())
    return engine.dist.all_sum({"loss": total})["loss"], n_tokens


def sft_step(
    sess: Session,
    examples: list[Example],
    *,
    batch_size: int,
    micro_batch: int,
    packing: bool,
    max_len: int,
    grad_clip: float,
) -> dict[str, float]:
    """One optimiser step on the next `batch_size` examples of the session's stream (this rank's
    share of them under torchrun)."""
    t0 = time.perf_counter()
    local = sess.dist.split(batch_size, "batch_size")
    picked = [examples[sess.stream.at(i)] for i in range(sess.cursor, sess.cursor + local)]
    sess.cursor += local
    seqs = [encode_example(sess.tokenizer, e.prompt, e.response, eos=True) for e in picked]
    loss, ntok = sft_loss_backward(
        sess.model,
        seqs,
        micro_batch=micro_batch,
        packing=packing,
        max_len=max_len,
        pad_id=sess.tokenizer.pad_token_id,
        engine=sess.engine,
    )
    gn = sess.engine.step(sess.model, sess.opt, sess.sched, grad_clip)
    dt = time.perf_counter() - t0
    return {
        "loss": loss,
        "grad_norm": gn,
        "lr": sess.sched.get_last_lr()[0],
        "epoch": sess.dist.to_global(sess.cursor) / len(examples),
        "tokens_per_s": sum(len(s.ids) for s in seqs) / dt,
        "response_tokens": ntok,
        "step_s": dt,
    }


def fit_to_length(
    examples: list[Example], tokenizer, max_len: int, overlong: str, source: str = "the data"
) -> tuple[list[Example], int]:
    """(the examples that fit in max_len tokens, how many were dropped); with overlong="error" the
    first example that does not fit is an error naming it."""
    kept, dropped = [], 0
    for i, e in enumerate(examples, 1):
        n = len(encode_example(tokenizer, e.prompt, e.response, eos=True).ids)
        if n <= max_len:
            kept.append(e)
        elif overlong == "drop":
            dropped += 1
        else:
            raise PonderError(
                f"record {i} of {source} has {n} tokens (prompt + response + EOS) > max_len={max_len}; "
                "raise max_len, or drop such examples with data.overlong=drop"
            )
    if not kept:
        raise PonderError(f"all {len(examples)} examples of {source} are longer than max_len={max_len}; raise max_len")
    if dropped:
        log.warning("dropped %d of %d examples longer than max_len=%d tokens", dropped, len(examples), max_len)
    return kept, dropped


class IndexStream:
    """Seeded per-epoch permutation of example indices (position -> index), like ProblemStream."""

    def __init__(self, n: int, seed: int):
        from ponder.train.data import ProblemStream

        self._inner = ProblemStream(list(range(n)), seed)

    def at(self, i: int) -> int:
        return self._inner.at(i)


def teacher_traces(cfg: SFTConfig, sess: Session) -> str:
    """Sample and verify teacher traces; returns the path of the written jsonl."""
    from ponder.gen import load_generator
    from ponder.prompts import prompted
    from ponder.tasks import load_task
    from ponder.train.distill import sample_verified

    t = cfg.teacher
    path = Path(cfg.run.out) / "teacher_traces.jsonl"
    if path.is_file() and (cfg.run.resume or not sess.dist.is_main):
        return str(path)  # a resumed run trains on the traces it started with; rank 0 wrote them
    problems = load_task(t.task, t.n, t.level, t.seed)
    teacher = prompted(load_generator(t.model), t.model, problems[0].task if problems else None, cfg.model.prompt)
    records, rates = sample_verified(
        teacher, problems, sess.accuracy_fn, k=t.k, temperature=t.temperature, max_tokens=t.max_tokens, seed=t.seed
    )
    write_jsonl(path, records)
    log.info(
        "teacher %s: %d verified traces from %d problems (mean pass rate %.2f)",
        t.model,
        len(records),
        len(problems),
        sum(rates.values()) / max(len(rates), 1),
    )
    return str(path)


def train_sft(cfg: SFTConfig, *, examples: list[Example] | None = None, **session_kwargs) -> dict:
    """SFT (or distillation when teacher.model is set); session_kwargs as in train_grpo."""
    need_gen = bool(cfg.eval.n) or session_kwargs.get("generator") is not None
    sess = Session.open(
        cfg.model, cfg.optim, cfg.run, total_steps=cfg.run.steps, train=cfg.train, need_gen=need_gen, **session_kwargs
    )
    source = "the given examples"
    if examples is None:
        with sess.dist.main_first():  # rank 0 samples teacher traces, the others read them
            source = cfg.data.path or (teacher_traces(cfg, sess) if cfg.teacher.model else None)
        if not source:
            raise PonderError("SFT needs data: set data.path=PATH.jsonl or teacher.model=NAME to distil")
        examples = load_sft(source, sess.tokenizer, sess.prompt)
    examples, dropped = fit_to_length(examples, sess.tokenizer, cfg.max_len, cfg.data.overlong, source)
    sess.stream = sess.shard(IndexStream(len(examples), cfg.run.seed))
    sess.resume(to_dict(cfg))
    task = cfg.eval_task or (cfg.teacher.task if cfg.teacher.model else None)
    held_out = held_out_problems(task, cfg.eval, cfg.teacher.level)

    def step_fn(step: int) -> dict:
        return sft_step(
            sess,
            examples,
            batch_size=cfg.batch_size,
            micro_batch=cfg.micro_batch,
            packing=cfg.packing,
            max_len=cfg.max_len,
            grad_clip=cfg.optim.grad_clip,
        )

    summary = {"config": to_dict(cfg), "examples": len(examples), "overlong_dropped": dropped, "start_step": sess.step}
    return sess.train_and_report(
        step_fn,
        summary,
        label="sft",
        status_key="loss",
        held_out=held_out,
        max_tokens=cfg.eval.max_tokens,
        every_eval=cfg.eval.every,
    )
