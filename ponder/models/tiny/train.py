"""`ponder train base`: train the built-in tiny reasoner from scratch on task traces.

Plain next-token prediction on `<bos>QUESTION\\n` + `<think>...</think>\\n<answer>...</answer><eos>`
with the loss on the response only. Data is generated on the fly from the built-in tasks (a
weighted mix) with a difficulty curriculum: early batches favour each task's easy levels, late
ones its hard levels (linear interpolation of level weights). Batches are length-bucketed to cut
padding. AdamW, warm-up then cosine decay to 10% over whichever budget (steps or minutes) is
closer to being spent, so a run fits a wall-clock budget on a laptop. Checkpoints (HF folder +
optimizer, RNG, step, elapsed time) are written atomically and `--resume` continues a killed run.
A share `reflect` of the traces of tasks that can write one (`trace_with_slip`) make a slip and
catch it (`wait` + the step redone); the slipped step gets no loss (steps.slip_segments).
`bf16` runs forward and backward under bf16 autocast (the AMX units pay from hidden 256 up;
weights and optimizer stay fp32); `pack` packs examples into rows of `pack_len` tokens with a
block-diagonal mask instead of length-bucketed padding (benchmarks/train_speed.py measures both).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ponder.config import load_config, split_overrides, to_dict
from ponder.types import PonderError


@dataclass
class BaseTrainConfig:
    out: str = "runs/tiny-base"
    tasks: dict[str, float] = field(
        default_factory=lambda: {"arithmetic": 0.35, "countdown": 0.35, "equations": 0.15, "knights": 0.15}
    )
    max_steps: int = 3000
    max_minutes: float = 14.0
    batch_size: int = 64
    bucket_batches: int = 8  # examples for this many batches are sorted by length together
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 0.1
    clip: float = 1.0
    seed: int = 0
    threads: int = 2
    save_every: int = 200
    layers: int = 4
    hidden: int = 128
    reflect: float = 0.0  # share of traces with a slip caught by `wait` (tasks with trace_with_slip)
    bf16: bool = False  # bf16 autocast for forward + backward
    pack: bool = False  # pack examples into rows of pack_len tokens instead of padding
    pack_len: int = 512
    init: str | None = None  # start from this model's weights (name or folder) instead of random ones


def level_weights(n_levels: int, progress: float) -> list[float]:
    """Curriculum: weights [n..1] (easy first) at progress 0 moving linearly to [1..n] at 1."""
    easy = [n_levels - i for i in range(n_levels)]
    hard = [i + 1 for i in range(n_levels)]
    return [(1 - progress) * e + progress * h for e, h in zip(easy, hard)]


def lr_factor(step: int, progress: float, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def sample_examples(
    rng: random.Random, tasks: dict, n: int, progress: float, reflect: float = 0.0
) -> list[tuple[str, str]]:
    """n (question, response) pairs from the task mix at this point of the curriculum; a share
    `reflect` of those whose task can write one are reflection traces (a slip, then `wait`)."""
    names = list(tasks)
    weights = [tasks[k][1] for k in names]
    out = []
    for _ in range(n):
        task = tasks[rng.choices(names, weights=weights)[0]][0]
        level = rng.choices(task.train_levels, weights=level_weights(len(task.train_levels), progress))[0]
        p = task.sample(rng, level)
        slip = hasattr(task, "trace_with_slip") and rng.random() < reflect
        out.append((p.question, task.trace_with_slip(p, rng) if slip else task.trace(p, rng)))
    return out


def save_checkpoint(path: Path, model, tok, opt, state: dict) -> None:
    """HF folder + trainer state, written to a temp folder then renamed (never half-written)."""
    import torch

    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    torch.save({"optimizer": opt.state_dict(), "torch_rng": torch.get_rng_state()}, tmp / "trainer.pt")
    (tmp / "trainer_state.json").write_text(json.dumps(state))
    old = path.with_name(path.name + ".old")
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def _setup(cfg: BaseTrainConfig, resume: bool):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ponder.models.tiny.build import build_model
    from ponder.tasks import TASKS

    torch.set_num_threads(cfg.threads)
    unknown = [t for t in cfg.tasks if t not in TASKS]
    if unknown:
        raise PonderError(f"unknown task(s) {unknown} in the training mix; known: {TASKS.names()}")
    ckpt = Path(cfg.out) / "checkpoint"
    state = {"step": 0, "elapsed": 0.0, "rng": None}
    if resume and ckpt.exists():
        model = AutoModelForCausalLM.from_pretrained(ckpt)
        tok = AutoTokenizer.from_pretrained(ckpt)
        state = json.loads((ckpt / "trainer_state.json").read_text())
    elif cfg.init:
        model, tok = _warm_start(cfg.init)
    else:
        model, tok = build_model(
            seed=cfg.seed, num_hidden_layers=cfg.layers, hidden_size=cfg.hidden, intermediate_size=4 * cfg.hidden
        )
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.98), weight_decay=cfg.weight_decay)
    if resume and ckpt.exists():
        saved = torch.load(ckpt / "trainer.pt", weights_only=False)
        opt.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["torch_rng"])
    return model, tok, opt, state


def _warm_start(init: str):
    """An existing model with today's tokenizer: embedding rows added for tokens it lacks (`≠` for
    tiny-v1; the ids of the tokens it has are unchanged, since new tokens are appended)."""
    from transformers import AutoModelForCausalLM

    from ponder.models import resolve_model
    from ponder.models.tiny.build import build_tokenizer

    model = AutoModelForCausalLM.from_pretrained(resolve_model(init))
    tok = build_tokenizer()
    if model.get_input_embeddings().weight.shape[0] < len(tok):
        model.resize_token_embeddings(len(tok), mean_resizing=True)
    return model, tok


def train(cfg: BaseTrainConfig, resume: bool = False) -> Path:
    """Train; returns the folder of the final model (out/final)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ponder.tasks import get_task

    model, tok, opt, state = _setup(cfg, resume)
    tasks = {name: (get_task(name), w) for name, w in cfg.tasks.items()}
    rng = random.Random(cfg.seed)
    if state["rng"] is not None:
        rng.setstate((state["rng"][0], tuple(state["rng"][1]), state["rng"][2]))
    queue = [[tuple(pair) for pair in batch] for batch in state.get("queue", [])]
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(to_dict(cfg), indent=2))
    step, elapsed0, t0 = state["step"], state["elapsed"], time.time()
    columns = (
        TextColumn("[bold]train base"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
    )
    model.train()
    with Progress(*columns) as bar, open(out / "train_log.jsonl", "a") as log:
        job = bar.add_task("", total=cfg.max_steps, completed=step, info="")
        while (progress := _progress(cfg, step, elapsed0 + time.time() - t0)) < 1.0:
            if not queue:
                pairs = sample_examples(rng, tasks, cfg.batch_size * cfg.bucket_batches, progress, cfg.reflect)
                queue = _bucketed(pairs, cfg, rng)
            loss, n_tok = _train_step(model, tok, opt, queue.pop(), cfg, step, progress)
            step += 1
            elapsed = elapsed0 + time.time() - t0
            log.write(
                json.dumps(
                    {
                        "step": step,
                        "loss": round(loss, 4),
                        "lr": opt.param_groups[0]["lr"],
                        "tokens": n_tok,
                        "elapsed": round(elapsed, 1),
                        "progress": round(progress, 4),
                    }
                )
                + "\n"
            )
            bar.update(job, completed=step, info=f"loss {loss:.3f}  {elapsed / 60:.1f} min")
            if step % cfg.save_every == 0:
                log.flush()
                state = {"step": step, "elapsed": elapsed, "rng": rng.getstate(), "queue": queue}
                save_checkpoint(out / "checkpoint", model, tok, opt, state)
    final = out / "final"
    shutil.rmtree(final, ignore_errors=True)
    model.save_pretrained(final)
    tok.save_pretrained(final)
    return final


def _progress(cfg: BaseTrainConfig, step: int, elapsed: float) -> float:
    """Fraction of the budget spent: steps or minutes, whichever is closer to its limit."""
    return max(step / cfg.max_steps, elapsed / (60 * cfg.max_minutes))


def _bucketed(pairs: list, cfg: BaseTrainConfig, rng: random.Random) -> list:
    pairs.sort(key=lambda qa: len(qa[0]) + len(qa[1]))
    batches = [pairs[i : i + cfg.batch_size] for i in range(0, len(pairs), cfg.batch_size)]
    rng.shuffle(batches)
    return batches


def _train_step(model, tok, opt, pairs, cfg: BaseTrainConfig, step: int, progress: float) -> tuple[float, int]:
    """One optimiser step on (question, response) pairs; loss on the response tokens (+ eos)."""
    import torch

    from ponder.steps import slip_segments
    from ponder.train.batch import encode_segments
    from ponder.train.sft import sft_loss_backward

    prompts = [
        tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True, tokenize=False)
        for q, _ in pairs
    ]
    seqs = [encode_segments(tok, prompt, slip_segments(r), eos=True) for prompt, (_, r) in zip(prompts, pairs)]
    for g in opt.param_groups:
        g["lr"] = cfg.lr * lr_factor(step, progress, cfg.warmup)
    opt.zero_grad(set_to_none=True)
    longest = max(len(s.ids) for s in seqs)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
        loss, n_tok = sft_loss_backward(
            model,
            seqs,
            micro_batch=len(seqs),
            packing=cfg.pack,
            max_len=max(cfg.pack_len, longest) if cfg.pack else longest,
            pad_id=tok.pad_token_id,
        )
    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
    opt.step()
    return loss, n_tok


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="ponder train base", description=__doc__.split("\n")[0])
    ap.add_argument("recipe", nargs="?", help="YAML recipe (e.g. recipes/base.yaml)")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    ap.add_argument(
        "--install", action="store_true", help="copy the final model into the package as the default 'tiny'"
    )
    rest, overrides = split_overrides(argv)
    args = ap.parse_args(rest)
    cfg = load_config(BaseTrainConfig, args.recipe, overrides)
    final = train(cfg, resume=args.resume)
    print(f"model saved to {final}")
    if args.install:
        from ponder.models import TINY_DIR

        shutil.rmtree(TINY_DIR, ignore_errors=True)
        shutil.copytree(final, TINY_DIR)
        print(f"installed as the built-in 'tiny' model at {TINY_DIR}")
    return 0
