"""The rollout sampler of a training run (`model.sampler`): `hf` samples the live weights in this
process; `vllm` starts a vLLM engine from the model's folder and `ray` hf replicas on Ray, each
kept in step with the trainer by pushing its weights (gen/synced.py). Under LoRA the pushed weights
are the base with the adapters merged in (the engines serve the plain base). Left out: loading
LoRA adapters into the engine itself (vLLM's LoRARequest).
"""

from __future__ import annotations

from ponder.train.common import ModelConfig, seed_everything


def live_generator(model, tokenizer, mcfg: ModelConfig, seed: int):
    """The sampler over the policy being trained: the hf backend on the live weights, or a vLLM
    engine (or hf replicas on Ray) started from the model's folder and kept in step with it
    (gen/synced.py); under LoRA the pushed weights are the base with the adapters merged in."""
    from ponder.gen.options import check_options, split_backend

    if mcfg.sampler == "hf":
        from ponder.gen.hf import HFGenerator

        return HFGenerator.from_model(model, tokenizer)
    weights = None
    if hasattr(model, "peft_config"):  # LoRA: the samplers serve the base; push base + adapters merged
        from ponder.train.lora import merged_weights as weights
    if mcfg.sampler == "ray":  # rollout workers on Ray (gen/ray_actor.py), the trainer here
        from ponder.gen.ray_actor import ray_sampler

        return ray_sampler(model, mcfg.name, every=mcfg.sync_every, weights=weights, **mcfg.engine)
    backend, _ = split_backend(None, mcfg.sampler)
    check_options(backend, mcfg.engine)
    from ponder.gen.synced import SyncedEngine
    from ponder.gen.vllm import VLLMGenerator
    from ponder.models import resolve_model

    engine = VLLMGenerator(resolve_model(mcfg.name), name=mcfg.name, **mcfg.engine)
    seed_everything(seed)  # the in-process engine re-seeds the global RNGs when it starts
    return SyncedEngine(model, engine, every=mcfg.sync_every, weights=weights)
