"""GRPO with rollouts sampled by vLLM while torch trains (`pytest -m vllm`; skipped without vLLM).

A few steps on the tiny reasoner with `model.sampler=vllm`: the trainer's weights are pushed into
the running engine, so the engine's greedy output afterwards differs from the base model's and
equals the hf backend's on the trained weights; truncated importance sampling is on by default
and its clipped fraction is logged.
"""

import json
import os

import pytest
import torch

from ponder.config import load_config
from ponder.types import SamplingParams

pytestmark = pytest.mark.vllm

for key, value in {"VLLM_HOST_IP": "127.0.0.1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}.items():
    os.environ.setdefault(key, value)


def _train_on_vllm(tmp_path, monkeypatch, steps: int, keys: list[str]):
    """GRPO on the tiny reasoner with model.sampler=vllm -> (summary, the SyncedEngine it made)."""
    from ponder.train import sampler
    from ponder.train.grpo import GRPOConfig, train_grpo

    torch.set_num_threads(1)
    made = []
    real = sampler.live_generator
    monkeypatch.setattr(sampler, "live_generator", lambda *a: made.append(real(*a)) or made[-1])
    cfg = load_config(
        GRPOConfig,
        None,
        [f"run.out={tmp_path}", f"run.steps={steps}", "run.progress=false", "run.save_every=0", "data.task=countdown",
         "data.n=32", "rollout.prompts_per_step=4", "rollout.group_size=4", "rollout.max_tokens=96",
         "model.sampler=vllm", *keys],
    )  # fmt: skip
    return train_grpo(cfg), made[0]


def test_grpo_with_vllm_rollouts_updates_the_engine(tmp_path, monkeypatch):
    pytest.importorskip("vllm")
    from ponder.gen import load_generator
    from ponder.gen.hf import HFGenerator
    from ponder.tasks import make_problems

    summary, engine = _train_on_vllm(tmp_path, monkeypatch, 3, ["optim.lr=3e-3"])
    assert summary["steps"] == 3
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(0.0 <= r["tis_clip_frac"] < 0.5 for r in rows)  # logged, and the engines agree closely
    assert engine.pushes >= 3  # the start, then after steps 1 and 2 (before the rollouts of 2 and 3)
    engine.sync(force=True)  # step 3's update has not been sampled from yet
    prompts = [engine.render(p.question) for p in make_problems("countdown", 8, seed=5)]
    greedy = SamplingParams(temperature=0, max_tokens=96)
    after = [g[0].token_ids for g in engine.generate(prompts, greedy)]
    base = [g[0].token_ids for g in load_generator("tiny").generate(prompts, greedy)]
    trained = HFGenerator.from_model(engine.model, engine.engine.tokenizer)
    assert after == [g[0].token_ids for g in trained.generate(prompts, greedy)]
    assert after != base
    engine.engine.close()


def test_lora_grpo_pushes_merged_adapters_into_vllm(tmp_path, monkeypatch):
    """train.lora with model.sampler=vllm: the engine serves the base, and each push sends base +
    adapters merged (train/lora.merged_weights); afterwards the engine's greedy output equals the
    live adapted model's on the hf backend and differs from the base's."""
    pytest.importorskip("vllm")
    pytest.importorskip("peft")
    from ponder.gen import load_generator
    from ponder.gen.hf import HFGenerator
    from ponder.tasks import make_problems

    summary, engine = _train_on_vllm(
        tmp_path, monkeypatch, 2, ["optim.lr=2e-2", "train.lora.r=8", "train.lora.alpha=32"]
    )
    assert summary["steps"] == 2
    engine.sync(force=True)
    prompts = [engine.render(p.question) for p in make_problems("countdown", 8, seed=5)]
    greedy = SamplingParams(temperature=0, max_tokens=96)
    after = [g[0].token_ids for g in engine.generate(prompts, greedy)]
    live = HFGenerator.from_model(engine.model.eval(), engine.engine.tokenizer)
    live.fast = False  # the generic loop runs the adapters
    assert after == [g[0].token_ids for g in live.generate(prompts, greedy)]
    assert after != [g[0].token_ids for g in load_generator("tiny").generate(prompts, greedy)]
    engine.engine.close()
