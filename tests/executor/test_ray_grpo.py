"""GRPO with rollout workers on Ray (`model.sampler=ray`): two hf replicas as Ray actors sample,
the trainer runs in this process and pushes its weights into both after each step; afterwards
both replicas score text as the trained weights do, not as the start did. Slow (~1 minute at load; two workers load
torch)."""

import json

import pytest
import torch
from ray_fixtures import ray_executor, ray_or_skip, record_live_generators  # noqa: F401

from ponder.models import TINY_DIR
from ponder.types import SamplingParams

ray = ray_or_skip()


@pytest.mark.slow
@pytest.mark.skipif(not (TINY_DIR / "config.json").is_file(), reason="tiny reasoner weights missing")
def test_grpo_with_rollout_workers_on_ray(tmp_path, monkeypatch, ray_executor):  # noqa: F811
    from ponder.config import load_config
    from ponder.gen import load_generator
    from ponder.gen.hf import HFGenerator
    from ponder.tasks import make_problems
    from ponder.train.grpo import GRPOConfig, train_grpo

    torch.set_num_threads(1)
    made = record_live_generators(monkeypatch)
    cfg = load_config(GRPOConfig, None, [f"run.out={tmp_path}", "run.steps=2", "run.progress=false", "run.save_every=0",
                                         "data.task=countdown", "data.n=32", "rollout.prompts_per_step=4",
                                         "rollout.group_size=4", "rollout.max_tokens=96", "optim.lr=3e-3",
                                         "model.sampler=ray", "model.engine.replicas=2"])  # fmt: skip
    assert train_grpo(cfg)["steps"] == 2
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(0.0 <= r["tis_clip_frac"] < 0.5 for r in rows)  # importance sampling on, and the engines agree
    engine = made[0]
    assert engine.pushes >= 2  # the start, then after step 1 (before step 2's rollouts)
    engine.sync(force=True)  # step 2's update has not been sampled from yet
    base = load_generator("tiny")
    prompts = [base.render(p.question) for p in make_problems("countdown", 6, seed=5)]
    texts = [g[0].text for g in base.generate(prompts, SamplingParams(temperature=0, max_tokens=48))]
    trained = HFGenerator.from_model(engine.model, base.tokenizer).logprobs(prompts, texts)
    start = base.logprobs(prompts, texts)
    for replica in engine.engine.actors:  # each replica holds the trained weights
        got = ray.get(replica.logprobs.remote(prompts, texts))
        assert all(torch.allclose(torch.tensor(a), torch.tensor(b), atol=1e-4) for a, b in zip(got, trained))
        assert not all(torch.allclose(torch.tensor(a), torch.tensor(b), atol=1e-4) for a, b in zip(got, start))
    engine.engine.close()
