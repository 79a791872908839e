"""`ponder train base`: train the built-in tiny reasoner from scratch on task traces.

Plain next-token prediction on `<bos>QUESTION\\n` + `<think>...</think>\\n<answer>...</answer><eos>`
with the loss on the response only. Data is generated on the fly from the built-in tasks (a
weighted mix) with a difficulty curriculum: early batches favour each task's easy levels, late
ones its hard levels (linear interpolation of level weights). Batches are length-bucketed to cut
padding. AdamW, warm-up then cosine decay to 10% over whichever budget (`run.steps` or
`run.max_minutes`) is closer to being spent, so a run fits a wall-clock budget on a laptop. The
loop, checkpoints, resume and metrics are the shared `Session`'s (session.py, checkpoint.py);
the data position (the sampler's RNG and the queued batches) rides in the checkpoint.

A share `reflect` of the traces of tasks that can write one (`trace_with_slip`) make a slip and
catch it (`wait` + the step redone); the slipped step gets no loss (steps.slip_segments). A
share `confirm` (tasks with `trace_with_check`) follow a right step with `wait` + that step
unchanged: a confirmation, so a forced `wait` after a right line leads to a check.
`bf16: true` is the older spelling of `train.precision=bf16` (autocast; the AMX units pay from
hidden 256 up; weights and optimizer stay fp32); `train.*` applies as for every trainer. `pack`
packs examples into rows of `pack_len` tokens with a block-diagonal mask instead of
length-bucketed padding (benchmarks/train_speed.py measures both).
`onpolicy` mixes in the model's own responses rewritten so that every check is right
(train/onpolicy.py, tasks/corrections.py), refreshed from the live weights every few steps.
`init` starts from an existing model's weights (its vocabulary grown to today's tokenizer).
Under torchrun every rank draws the same global batches (the sampler's RNG and queue are the
same on every rank, and so is the curriculum's progress: the ranks agree on it each step) and
trains on the rank-strided share `batch[rank::world]`, so the data position in the checkpoint is
global and resumes at any world size.
Left out: LoRA (nothing to adapt).
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ponder.train.common import ModelConfig, OptimConfig, RunConfig, TrainConfig
from ponder.train.onpolicy import OnPolicyConfig
from ponder.types import PonderError


def _base_optim() -> OptimConfig:
    return OptimConfig(lr=2e-3, betas=(0.9, 0.98), weight_decay=0.1, warmup_steps=100, schedule="cosine")


def _base_run() -> RunConfig:
    return RunConfig(out="runs/tiny-base", steps=3000, max_minutes=14.0, save_every=200)


@dataclass
class BaseConfig:
    """Pre-training the tiny reasoner from scratch on the built-in tasks' traces.

    tasks: task -> share of the training examples
    batch_size: examples per optimiser step
    bucket_batches: examples for this many batches are sorted by length together
    layers: transformer layers
    hidden: hidden size
    reflect: share of traces with a slip caught by `wait` (tasks with trace_with_slip)
    confirm: share of traces in which `wait` confirms a right step (tasks with trace_with_check)
    bf16: the older spelling of train.precision=bf16 (bf16 autocast)
    pack: pack examples into rows of pack_len tokens instead of padding
    pack_len: tokens per packed row
    init: start from this model's weights (name or folder) instead of random ones
    onpolicy: the model's own responses, corrected, mixed into the batches (train/onpolicy.py)
    """

    tasks: dict[str, float] = field(
        default_factory=lambda: {"arithmetic": 0.35, "countdown": 0.35, "equations": 0.15, "knights": 0.15}
    )
    batch_size: int = 64
    bucket_batches: int = 8  # examples for this many batches are sorted by length together
    layers: int = 4
    hidden: int = 128
    reflect: float = 0.0  # share of traces with a slip caught by `wait` (tasks with trace_with_slip)
    confirm: float = 0.0  # share of traces in which `wait` confirms a right step (trace_with_check)
    bf16: bool = False  # the older spelling of train.precision=bf16
    pack: bool = False  # pack examples into rows of pack_len tokens instead of padding
    pack_len: int = 512
    init: str | None = None  # start from this model's weights (name or folder) instead of random ones
    onpolicy: OnPolicyConfig = field(default_factory=OnPolicyConfig)
    optim: OptimConfig = field(default_factory=_base_optim)  # schedule: always budget-aware cosine
    run: RunConfig = field(default_factory=_base_run)
    train: TrainConfig = field(default_factory=TrainConfig)


def level_weights(n_levels: int, progress: float) -> list[float]:
    """Curriculum: weights [n..1] (easy first) at progress 0 moving linearly to [1..n] at 1."""
    easy = [n_levels - i for i in range(n_levels)]
    hard = [i + 1 for i in range(n_levels)]
    return [(1 - progress) * e + progress * h for e, h in zip(easy, hard)]


def lr_factor(step: int, progress: float, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def budget_progress(step: int, elapsed_s: float, run: RunConfig) -> float:
    """Fraction of the budget spent: steps or minutes, whichever is closer to its limit."""
    by_time = elapsed_s / (60 * run.max_minutes) if run.max_minutes else 0.0
    return max(step / run.steps, by_time)


def sample_examples(
    rng: random.Random, tasks: dict, n: int, progress: float, reflect: float = 0.0, confirm: float = 0.0
) -> list[tuple[str, str]]:
    """n (question, response) pairs from the task mix at this point of the curriculum; a share
    `reflect` of those whose task can write one are reflection traces (a slip, then `wait`), a
    share `confirm` confirmation traces (a right step, then `wait` and it unchanged)."""
    names = list(tasks)
    weights = [tasks[k][1] for k in names]
    out = []
    for _ in range(n):
        task = tasks[rng.choices(names, weights=weights)[0]][0]
        level = rng.choices(task.train_levels, weights=level_weights(len(task.train_levels), progress))[0]
        p = task.sample(rng, level)
        kind = rng.random()
        if kind < reflect and hasattr(task, "trace_with_slip"):
            out.append((p.question, task.trace_with_slip(p, rng)))
        elif reflect <= kind < reflect + confirm and hasattr(task, "trace_with_check"):
            out.append((p.question, task.trace_with_check(p, rng)))
        else:
            out.append((p.question, task.trace(p, rng)))
    return out


def _bucketed(pairs: list, batch_size: int, rng: random.Random) -> list:
    pairs.sort(key=lambda qa: len(qa[0]) + sum(len(t) for t, _ in _pieces(qa[1])))
    batches = [pairs[i : i + batch_size] for i in range(0, len(pairs), batch_size)]
    rng.shuffle(batches)
    return batches


def _train_step(sess, pairs: list, cfg: BaseConfig, progress: float) -> tuple[float, int]:
    """One optimiser step on (question, response) pairs; loss on the response tokens (+ eos)."""
    from ponder.train.batch import encode_segments
    from ponder.train.common import render_prompt
    from ponder.train.sft import sft_loss_backward

    tok = sess.tokenizer
    seqs = [encode_segments(tok, render_prompt(tok, q), _pieces(r), eos=True) for q, r in pairs]
    for g in sess.opt.param_groups:
        g["lr"] = cfg.optim.lr * lr_factor(sess.step, progress, cfg.optim.warmup_steps)
    sess.opt.zero_grad(set_to_none=True)
    longest = max(len(s.ids) for s in seqs)
    loss, n_tok = sft_loss_backward(
        sess.model,
        seqs,
        micro_batch=len(seqs),
        packing=cfg.pack,
        max_len=max(cfg.pack_len, longest) if cfg.pack else longest,
        pad_id=tok.pad_token_id,
        engine=sess.engine,
    )
    sess.engine.step(sess.model, sess.opt, None, cfg.optim.grad_clip)
    return loss, n_tok


def _pieces(response) -> list[tuple[str, bool]]:
    """A generated trace (its slips untrained, steps.slip_segments) or on-policy (text, trained) pieces."""
    from ponder.steps import slip_segments

    return slip_segments(response) if isinstance(response, str) else [(t, bool(k)) for t, k in response]


def _data_state(sess, seed: int) -> tuple[random.Random, list]:
    """The sampler's RNG and queued batches: fresh, or as the checkpoint left them."""
    rng = random.Random(seed)
    if "rng" in sess.extra:
        a, b, c = sess.extra["rng"]
        rng.setstate((a, tuple(b), c))
    return rng, [[tuple(qa) for qa in batch] for batch in sess.extra.get("queue", [])]


def warm_start(init: str):
    """An existing model (built-in name, HF folder, or a run folder: its latest checkpoint) with
    today's tokenizer: embedding rows added for tokens it lacks (`≠` for tiny-v1; the ids of the
    tokens it has are unchanged, since new tokens are appended)."""
    from transformers import AutoModelForCausalLM

    from ponder.models import resolve_model
    from ponder.models.tiny.build import build_tokenizer

    run_latest = Path(init) / "latest"  # a run folder: its latest checkpoint
    if run_latest.is_file():
        init = str(Path(init) / run_latest.read_text().strip())
    model = AutoModelForCausalLM.from_pretrained(resolve_model(init))
    tok = build_tokenizer()
    if model.get_input_embeddings().weight.shape[0] < len(tok):
        model.resize_token_embeddings(len(tok), mean_resizing=True)
    return model, tok


def train_base(cfg: BaseConfig) -> dict:
    """Train (or resume) from scratch; returns the summary written to run.out/summary.json."""
    from ponder.config import to_dict
    from ponder.models.tiny.build import build_model
    from ponder.tasks import TASKS, get_task
    from ponder.train.session import Session

    unknown = [t for t in cfg.tasks if t not in TASKS]
    if unknown:
        raise PonderError(f"unknown task(s) {unknown} in the training mix; known: {TASKS.names()}")
    if cfg.init:
        model, tok = warm_start(cfg.init)
    else:
        model, tok = build_model(
            seed=cfg.run.seed, num_hidden_layers=cfg.layers, hidden_size=cfg.hidden, intermediate_size=4 * cfg.hidden
        )
    if cfg.train.lora.r:
        raise PonderError("train.lora does not apply to training from scratch (there is no base to adapt)")
    sess = Session.open(
        ModelConfig(), cfg.optim, cfg.run, total_steps=cfg.run.steps, model=model, tokenizer=tok, need_gen=False,
        train=dataclasses.replace(cfg.train, precision="bf16") if cfg.bf16 else cfg.train,
    )  # fmt: skip
    sess.dist.split(cfg.batch_size, "batch_size")  # every rank trains on an equal share
    cfg.onpolicy.check(sess.dist.world)
    sess.resume(to_dict(cfg))
    tasks = {name: (get_task(name), w) for name, w in cfg.tasks.items()}
    rng, queue = _data_state(sess, cfg.run.seed)
    onpolicy = _OnPolicy(sess, cfg.onpolicy)

    def step_fn(step: int) -> dict:
        d = sess.dist
        progress = d.all_sum({"p": budget_progress(sess.step, sess.elapsed(), cfg.run)})["p"] / d.world  # agreed
        stats = onpolicy.maybe_refresh(rng, progress)
        if not queue:
            pairs = sample_examples(rng, tasks, cfg.batch_size * cfg.bucket_batches, progress, cfg.reflect, cfg.confirm)
            queue.extend(_bucketed(onpolicy.mix(pairs, rng), cfg.batch_size, rng))
        loss, n_tok = _train_step(sess, queue.pop()[d.rank :: d.world], cfg, progress)
        sess.extra.update(rng=rng.getstate(), queue=queue)
        lr = sess.opt.param_groups[0]["lr"]
        return {"loss": loss, "lr": lr, "tokens": n_tok, "progress": progress, "elapsed": sess.elapsed(), **stats}

    summary = {"config": to_dict(cfg), "start_step": sess.step}
    return sess.train_and_report(step_fn, summary, label="train base", status_key="loss", held_out=[], max_tokens=0)


class _OnPolicy:
    """The on-policy pool of a base-training run: refreshed from the live weights every
    `cfg.every` steps; the pool and when it was drawn ride in the checkpoint (sess.extra)."""

    def __init__(self, sess, cfg: OnPolicyConfig):
        self.sess, self.cfg, self.gen = sess, cfg, None

    def maybe_refresh(self, rng: random.Random, progress: float) -> dict:
        from ponder.train.onpolicy import refresh_pool

        extra = self.sess.extra
        due = "onpolicy_pool" not in extra or self.sess.step - extra["onpolicy_at"] >= self.cfg.every
        if not self.cfg.share or not due:
            return {}
        if self.gen is None:
            from ponder.gen.hf import HFGenerator

            self.gen = HFGenerator.from_model(self.sess.model, self.sess.tokenizer)
        pool, stats = refresh_pool(self.gen, self.cfg, rng, lambda n: level_weights(n, progress))
        extra.update(onpolicy_pool=pool, onpolicy_at=self.sess.step)
        return stats

    def mix(self, pairs: list, rng: random.Random) -> list:
        from ponder.train.onpolicy import mix_in

        return mix_in(pairs, self.sess.extra.get("onpolicy_pool", []), self.cfg.share, rng)


def install(ckpt: Path, target: Path) -> None:
    """Copy a checkpoint's model and tokenizer (not its trainer state) to `target`."""
    from ponder.train.checkpoint import CHECKSUMS, STATE_JSON, STATE_PT

    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(ckpt, target, ignore=shutil.ignore_patterns(STATE_PT, STATE_JSON, CHECKSUMS))


def main(argv: list[str]) -> int:
    """`ponder train base [RECIPE.yaml] [--key=value ...] [--install]`."""
    from ponder.cliargs import parse_cli

    install_it = "--install" in argv
    doc = (__doc__ or "").split("\n")[0] + "\n--install copies the final model into the package as the default 'tiny'."
    prog = "ponder train base [RECIPE.yaml] [--key=value ...] [--install]"
    cfg, _ = parse_cli(BaseConfig, [a for a in argv if a != "--install"], prog=prog, doc=doc, recipe=True)
    from ponder.train.distributed import shutdown

    try:
        summary = train_base(cfg)
    finally:
        shutdown()
    if os.environ.get("RANK", "0") != "0":
        return 0  # under torchrun rank 0 reports and installs
    final = Path(cfg.run.out) / f"ckpt-{summary['steps']:06d}"
    print(f"model saved to {final}")
    if install_it:
        from ponder.models import TINY_DIR

        install(final, TINY_DIR)
        print(f"installed as the built-in 'tiny' model at {TINY_DIR}")
    return 0
