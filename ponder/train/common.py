"""Pieces every trainer shares: the config blocks of a recipe (model, optimiser, run), loading the
policy and its tokenizer with clear errors, the optimiser and LR schedule, seeding, and prompt
rendering. Loops stay in their own files; this file holds no algorithm.

How the loop runs on the hardware (precision, gradient checkpointing, LoRA) is the `train:`
block (`TrainConfig`), applied by hardware.py, lora.py and distributed.py for every trainer.
"""

from __future__ import annotations

import logging
import math
import os
import random
from dataclasses import dataclass, field
from typing import Literal

import torch

from ponder.types import PonderError

log = logging.getLogger(__name__)


@dataclass
class OptimConfig:
    """AdamW and its schedule.

    lr: peak learning rate
    betas: AdamW's (beta1, beta2)
    weight_decay: AdamW weight decay
    warmup_steps: linear warm-up steps from 0 to lr
    schedule: constant | cosine (decays to 10% of lr)
    grad_clip: clip the gradient norm to this (0: no clipping)
    """

    lr: float = 3e-5
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0
    warmup_steps: int = 0
    schedule: str = "constant"  # constant | cosine (to 10% of lr)
    grad_clip: float = 1.0


@dataclass
class RunConfig:
    """Where a run writes, how long it goes, how it saves.

    out: run folder (checkpoints, metrics.jsonl, summary.json)
    seed: seed of everything random in the run
    steps: optimiser steps
    save_every: save a checkpoint every k steps (0: only at the end)
    log_every: write a metrics line every k steps
    resume: continue from out/latest when it exists
    threads: torch CPU threads
    device: torch device (cpu, cuda)
    progress: show a progress bar
    max_minutes: stop (and save) after this many minutes (0: no wall-clock cap)
    """

    out: str = "runs/train"
    seed: int = 0
    steps: int = 100
    save_every: int = 50  # 0: only at the end
    log_every: int = 1
    resume: bool = True  # continue from out/latest when it exists
    threads: int = 2
    device: str = "cpu"
    progress: bool = True
    max_minutes: float = 0.0  # 0: no wall-clock cap; else stop (and save) after this long, over resumes


@dataclass
class ModelConfig:
    """The policy to train and its reference.

    name: built-in model name, Hugging Face folder, or hub id
    ref: reference model for KL / DPO (null: a frozen copy of the starting policy)
    sampler: rollouts: hf samples the live policy; vllm a vLLM engine synced with it; ray hf replicas on Ray (engine: replicas, address, cpus)
    sync_every: vllm or ray sampler: push the weights after every k optimiser steps
    engine: vllm sampler options (gen/options.py: max_model_len, ...)
    prompt: prompt format of every rendered question (r1, boxed, code, plain, tiny; null: tiny for built-in models, else by task; --prompt)
    """

    name: str = "tiny"  # built-in name, HF folder, or hub id
    ref: str | None = None  # reference model for KL / DPO; None: a frozen copy of the start
    sampler: str = "hf"  # rollouts: "hf" the live policy; "vllm" a vLLM engine synced with it; "ray" hf replicas on Ray
    sync_every: int = 1  # vllm or ray sampler: push the weights after every k optimiser steps
    engine: dict = field(default_factory=dict)  # vllm sampler options (gen/options.py: max_model_len, ...)
    prompt: str | None = None  # prompt format (ponder/prompts.py); None: the default for the model and task


@dataclass
class LoRAConfig:
    """LoRA adapters through peft (train/lora.py).

    r: adapter rank (0: full fine-tuning, no adapters)
    alpha: LoRA scaling numerator (the update is scaled by alpha / r)
    dropout: dropout on the adapter input
    targets: module names to adapt, or [all-linear]
    """

    r: int = 0  # adapter rank; 0: full fine-tuning
    alpha: float = 16.0
    dropout: float = 0.0
    targets: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])  # or ["all-linear"]


@dataclass
class TrainConfig:
    """How the loop runs on the hardware; the same keys for every trainer (`--train.precision=bf16`).

    precision: fp32 | bf16 (autocast, fp32 master weights) | bf16-pure | fp16 (autocast + loss scaling)
    grad_checkpointing: recompute activations in backward (less memory, more compute)
    lora: LoRA adapters (train.lora.r > 0 turns them on)
    """

    precision: Literal["fp32", "bf16", "bf16-pure", "fp16"] = "fp32"  # bf16/fp16: autocast, fp32 master weights
    grad_checkpointing: bool = False  # recompute activations in backward (less memory, ~1/3 more compute)
    lora: LoRAConfig = field(default_factory=LoRAConfig)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:
        pass


def set_threads(n: int) -> None:
    torch.set_num_threads(max(1, min(n, os.cpu_count() or 1)))


def load_policy(name: str, device: str = "cpu"):
    """(model, tokenizer) from a built-in name, folder or hub id; a missing tokenizer is an error."""
    from ponder.models.load import load_causal_lm

    model, tok = load_causal_lm(name, device=device)
    check_tokenizer(tok, name)
    return model, tok


def check_tokenizer(tok, name: str) -> None:
    if tok is None:
        raise PonderError(f"model {name!r} has no tokenizer; pass one or save it beside the weights")
    if tok.eos_token_id is None:
        raise PonderError(f"tokenizer of {name!r} has no eos token; set tokenizer.eos_token before training")
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token


def frozen_copy(model):
    """A deep copy with gradients off, in eval mode: the reference policy."""
    import copy

    ref = copy.deepcopy(model).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def render_prompt(tokenizer, question: str, fmt: str | None = None) -> str:
    """The prompt text for a question: in prompt format `fmt` (ponder/prompts.py) when given and
    not `tiny`, else the tokenizer's chat template when it has one, else `question\n`."""
    if fmt not in (None, "tiny"):
        from ponder.prompts import get_prompt, render

        return render(get_prompt(fmt), tokenizer, question)
    if getattr(tokenizer, "chat_template", None):
        msgs = [{"role": "user", "content": question}]
        return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    return question + "\n"


def make_optimizer(model, cfg: OptimConfig, groups: list[dict] | None = None) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters at cfg.lr, or over `groups` (torch param groups, each
    with its own "lr") when a trainer needs several rates."""
    params = groups or [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)


def make_scheduler(opt: torch.optim.Optimizer, cfg: OptimConfig, total_steps: int):
    """Linear warm-up, then constant or cosine decay to 10% of the peak."""
    if cfg.schedule not in ("constant", "cosine"):
        raise PonderError(f"optim.schedule must be constant or cosine, got {cfg.schedule!r}")

    def factor(step: int) -> float:
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.schedule == "constant":
            return 1.0
        span = max(total_steps - cfg.warmup_steps, 1)
        t = min((step - cfg.warmup_steps) / span, 1.0)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)
