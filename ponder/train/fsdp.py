"""Fully sharded data parallelism (`train.parallel=fsdp`) with PyTorch's FSDP2 (`fully_shard`).

Under torchrun each rank keeps 1/W of every parameter, of its gradient and of the AdamW state
(DTensor shards, dim 0); a decoder layer's full weights exist only while it runs (all-gathered in
its forward and again in backward, its gradients reduce-scattered). Layers are the classes the
model names in `_no_split_modules` (transformers' own list of blocks never to split), each its
own FSDP unit; embeddings, final norm and the (tied) head form the root unit.

- Losses, normalisers, precision (autocast or pure bf16) and gradient checkpointing work as under
  DDP (hardware.py): FSDP2 averages gradients over ranks like DDP does.
- Sampling (GRPO rollouts, DPO pairs, held-out evaluation) runs on the full weights: `Gather`
  all-gathers every unit once, keeps it unsharded (no collective per decode step, so ranks may
  generate different lengths), and reshards afterwards. Peak memory during rollouts is therefore
  one full copy of the weights per rank (verl's hybrid engine does the same); training holds
  shards only.
- Checkpoints: the full state dict (weights and AdamW state, keyed as one process keys them) is
  gathered to rank 0, which writes the ordinary Hugging Face folder and trainer_state.pt, so a
  checkpoint is the same file whether written by 1 process, DDP or FSDP, and resumes under any
  of them at any world size (each rank reads the full state and keeps its shard).
- The reference policy of a KL term is a second sharded model holding a copy of the starting
  shards (`sharded_copy`).

Left out: LoRA under FSDP, trainers with their own parameter groups (PRM/ORM), FSDP2's
MixedPrecisionPolicy (autocast does the same job here), CPU offload of shards, distributed
(sharded) checkpoint files for models too large to gather on one rank, hybrid sharding.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from ponder.types import PonderError

log = logging.getLogger(__name__)


def decoder_layers(model) -> list[torch.nn.Module]:
    """The blocks to shard one by one: modules whose class the model lists in _no_split_modules."""
    names = set(getattr(model, "_no_split_modules", None) or [])
    layers = [m for m in model.modules() if type(m).__name__ in names]
    if not layers:
        raise PonderError(f"train.parallel=fsdp: {type(model).__name__} names no decoder layer class to shard")
    return layers


def shard_model(model, dist) -> None:
    """Shard `model` in place over the ranks of `dist` (one FSDP unit per decoder layer + root)."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh(torch.device(dist.device).type, (dist.world,))
    for layer in decoder_layers(model):
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    log.info("fsdp: %d of %d parameters on rank %d", local_numel(model), full_numel(model), dist.rank)


def is_sharded(model) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def units(model) -> list:
    from torch.distributed.fsdp import FSDPModule

    return [m for m in model.modules() if isinstance(m, FSDPModule)]


def local_numel(model) -> int:
    """Parameter elements this rank holds (its shards)."""
    return sum((p.to_local() if hasattr(p, "to_local") else p).numel() for p in model.parameters())


def full_numel(model) -> int:
    return sum(p.numel() for p in model.parameters())


class Gather:
    """Context manager factory: every FSDP unit of `model` unsharded for the block (one
    all-gather each, on entry, by every rank), no resharding inside it, resharded on exit.
    Re-entrant: an inner `with` inside an outer one does nothing."""

    def __init__(self, model):
        self.model, self.depth = model, 0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        mods = units(self.model)
        if self.depth == 0:
            for m in mods:
                m.set_reshard_after_forward(False, recurse=False)
                m.unshard()
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if self.depth == 0:
                for m in mods:
                    m.reshard()
                    m.set_reshard_after_forward(m is not self.model, recurse=False)  # the root stays gathered in train


class GatheredSampler:
    """A generator over a sharded policy: each generate()/logprobs() runs with the weights
    gathered (all ranks call it together, as GRPO's rollouts do); everything else delegates."""

    def __init__(self, gen, gather: Gather):
        self._gen, self._gather = gen, gather

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gen, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._gen, name, value)

    def _fresh(self) -> None:
        """Gathered tensors may reuse the addresses (and version counters) of the last gather's
        while holding new values: drop what the hf backend keys on them (prefix K/V, the fast
        decoder's packed weight copies)."""
        cache = getattr(self._gen, "prefix_cache", None)
        if cache is not None:
            cache.clear()
        packed = getattr(self._gen, "_packed", None)
        if packed is not None:
            packed.key = None  # fast_weights.PackedWeights rebuilds on the next call

    def generate(self, prompts, params):
        with self._gather():
            self._fresh()
            return self._gen.generate(prompts, params)

    def logprobs(self, prompts, continuations):
        with self._gather():
            self._fresh()
            return self._gen.logprobs(prompts, continuations)


def sharded_copy(model, dist):
    """A frozen second sharded model holding the policy's current shards (the KL reference)."""
    from transformers import AutoModelForCausalLM

    dtype = next(model.parameters()).dtype
    with torch.device(dist.device):
        ref = AutoModelForCausalLM.from_config(model.config, dtype=dtype)
    shard_model(ref, dist)
    src = dict(model.named_parameters())
    with torch.no_grad():
        for name, p in ref.named_parameters():
            p.to_local().copy_(src[name].to_local())
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref.eval()


def _names(model, opt) -> list[str]:
    """The parameter name of each optimiser slot, in the optimiser's order."""
    name_of = {id(p): n for n, p in model.named_parameters()}
    return [name_of[id(p)] for g in opt.param_groups for p in g["params"]]


def to_indexed(named: dict, names: list[str]) -> dict:
    """A name-keyed optimiser state (torch.distributed.checkpoint's form) -> the int-keyed form of
    `optimizer.state_dict()` (what one process saves)."""
    idx = {n: i for i, n in enumerate(names)}
    groups = [{**g, "params": [idx[n] for n in g["params"]]} for g in named["param_groups"]]
    return {"state": {idx[k]: v for k, v in named["state"].items()}, "param_groups": groups}


def to_named(indexed: dict, names: list[str]) -> dict:
    """The inverse of to_indexed."""
    groups = [{**g, "params": [names[i] for i in g["params"]]} for g in indexed["param_groups"]]
    return {"state": {names[int(i)]: v for i, v in indexed["state"].items()}, "param_groups": groups}


def full_state(model, opt) -> tuple[dict, dict]:
    """(weights, optimiser state) gathered whole onto rank 0's CPU (empty on other ranks), in
    one process's layout. A collective: every rank calls it."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

    weights, named = get_state_dict(model, opt, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return weights, (to_indexed(named, _names(model, opt)) if named else {})


class ShardedOptimizer:
    """What checkpoint.py saves and loads as "the optimiser" under FSDP: the full state gathered
    beforehand (`gathered`), and loading a full int-keyed state into this rank's shards."""

    def __init__(self, model, opt, gathered: dict | None = None):
        self.model, self.opt, self.gathered = model, opt, gathered

    def state_dict(self) -> dict:
        return self.gathered

    def load_state_dict(self, state: dict) -> None:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        named = to_named(state, _names(self.model, self.opt))
        set_optimizer_state_dict(self.model, self.opt, named, options=StateDictOptions(full_state_dict=True))


def load_full_weights(model, folder: Path) -> None:
    """A Hugging Face folder's weights into this rank's shards (every rank reads the file)."""
    from safetensors.torch import load_file
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    weights = load_file(str(Path(folder) / "model.safetensors"))
    keys = set_model_state_dict(model, weights, options=StateDictOptions(full_state_dict=True, strict=False))
    missing = [k for k in keys.missing_keys if "lm_head" not in k]
    if keys.unexpected_keys or missing:
        raise PonderError(
            f"checkpoint {folder} does not match the model: missing {missing}, unexpected {keys.unexpected_keys}"
        )


def check_supported(train, param_groups) -> None:
    """What FSDP here does not combine with: clear errors before anything is sharded."""
    if train.lora.r > 0:
        raise PonderError("train.parallel=fsdp does not support train.lora (use parallel=ddp with LoRA)")
    if train.precision == "fp16":
        raise PonderError(
            "train.parallel=fsdp supports precision fp32, bf16 and bf16-pure (fp16's loss scaling is not wired to shards)"
        )
    if param_groups is not None:
        raise PonderError("train.parallel=fsdp is not supported by this trainer (it sets its own parameter groups)")
