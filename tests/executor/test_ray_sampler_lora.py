"""GRPO's Ray sampler under LoRA pushes the base weights with the adapters merged in (the replicas
serve the plain base model, which has no adapter parameters to receive); without LoRA it pushes
the state dict. No Ray needed: the sampler factory is replaced by a recorder."""

from types import SimpleNamespace

from ponder.train import lora, sampler
from ponder.train.common import ModelConfig


def _pushed_weights(monkeypatch, model):
    import ponder.gen.ray_actor as ray_actor

    seen = {}
    monkeypatch.setattr(ray_actor, "ray_sampler", lambda model, name, **kw: seen.update(kw) or "sampler")
    made = sampler.live_generator(model, None, ModelConfig(name="tiny", sampler="ray", sync_every=2), 0)
    assert made == "sampler" and seen["every"] == 2
    return seen["weights"]


def test_lora_policy_pushes_merged_weights(monkeypatch):
    assert _pushed_weights(monkeypatch, SimpleNamespace(peft_config={"default": None})) is lora.merged_weights


def test_plain_policy_pushes_its_state_dict(monkeypatch):
    assert _pushed_weights(monkeypatch, SimpleNamespace()) is None  # SyncedEngine's default: state_dict
