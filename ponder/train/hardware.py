"""How one training step meets the hardware, shared by every trainer: precision, gradient
checkpointing, LoRA set-up, and the backward/optimiser bookkeeping of data parallelism.

- `fp32`: plain. `bf16` / `fp16`: forward passes under torch.autocast (matmuls in half
  precision; weights, gradients and AdamW state stay fp32 master copies). `fp16` adds dynamic
  loss scaling (torch.amp.GradScaler) because its narrow exponent underflows small gradients.
  `bf16-pure`: weights, gradients and optimiser state in bf16 (half the memory; an update
  smaller than bf16's ~3 significant digits of a weight is lost, so it is for memory, not
  accuracy). On CPU, bf16 matmuls use AMX-BF16 where the CPU has it.
- Log-probabilities are taken from logits cast to fp32 (losses.token_logprobs), so the NLL,
  ratios and KL are fp32 in every mode.
- Gradient checkpointing: transformers' own, non-reentrant torch.utils.checkpoint per decoder
  layer (activations recomputed in backward).
- Data parallel: losses are normalised by counts summed over all ranks and multiplied by the
  world size before backward, undoing DDP's gradient average, so W ranks produce the
  single-process gradient of the same global batch; `accumulating` skips DDP's all-reduce on all
  but the last micro-batch.

Left out: fp8, loss scaling for bf16 (its exponent range is fp32's), optimiser-state offload.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch

from ponder.train.common import TrainConfig
from ponder.train.distributed import Dist
from ponder.types import PonderError

HALF = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class Engine:
    precision: str = "fp32"
    device_type: str = "cpu"
    dist: Dist = field(default_factory=Dist)
    scaler: Any = None  # torch.amp.GradScaler for fp16

    @classmethod
    def make(cls, precision: str, dist: Dist) -> Engine:
        device_type = torch.device(dist.device).type
        scaler = torch.amp.GradScaler(device_type) if precision == "fp16" else None
        return cls(precision, device_type, dist, scaler)

    def autocast(self):
        """Context for forward passes: autocast in bf16/fp16, nothing otherwise."""
        if self.precision in HALF:
            return torch.autocast(self.device_type, dtype=HALF[self.precision])
        return nullcontext()

    @contextmanager
    def accumulating(self, model, *, last: bool) -> Iterator[None]:
        """Wrap a micro-batch's forward + backward: DDP syncs gradients only on the last one."""
        if self.dist.world > 1 and not last and not self.dist.sharded:  # fsdp reduce-scatters every micro-batch
            with model.no_sync():
                yield
        else:
            yield

    def backward(self, loss: torch.Tensor) -> None:
        """loss: this rank's share of the global-batch loss (normalised by global counts)."""
        if self.dist.world > 1:
            loss = loss * self.dist.world
        if self.scaler is not None:
            loss = self.scaler.scale(loss)
        loss.backward()

    def step(self, model, opt, sched, grad_clip: float) -> float:
        """Unscale (fp16), clip, step, zero; returns the pre-clip gradient norm."""
        if self.scaler is not None:
            self.scaler.unscale_(opt)
        params = [p for p in model.parameters() if p.requires_grad]
        norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip > 0 else float("inf"))
        if self.scaler is not None:
            self.scaler.step(opt)  # skipped when the unscaled gradients hold inf/nan
            self.scaler.update()
        else:
            opt.step()
        if sched is not None:
            sched.step()
        opt.zero_grad(set_to_none=True)
        return float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)  # fsdp: a DTensor


PLAIN = Engine()  # fp32, one process: what a trainer function uses when called without a session


def prepare_model(model, cfg: TrainConfig, *, base: str):
    """Apply the `train:` block to a freshly loaded policy: LoRA adapters (only they train),
    gradient checkpointing, pure-bf16 weights. Returns the model to optimise."""
    if cfg.lora.r > 0:
        from ponder.train.lora import add_adapters

        model = add_adapters(model, cfg.lora, base=base)
    if cfg.grad_checkpointing:
        enable_checkpointing(model)
    if cfg.precision == "bf16-pure":
        model = model.to(torch.bfloat16)
    return model


def enable_checkpointing(model) -> None:
    """Non-reentrant activation checkpointing of every decoder layer of a transformers model."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x (the old name is deprecated)
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    elif hasattr(model, "gradient_checkpointing_enable"):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    else:
        raise PonderError(f"train.grad_checkpointing: {type(model).__name__} is not a transformers model")
    model.config.use_cache = False
