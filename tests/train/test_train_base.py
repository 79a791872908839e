"""Base training of the tiny reasoner on the shared loop: curriculum, a run killed mid-way
resumes to exactly the weights of an unbroken run with the same seed, `--install` copies the
model without its trainer state, and bad config fails before training."""

import json

import pytest
import torch

import ponder.train.base as base
from ponder.config import load_config
from ponder.train.base import BaseConfig, level_weights, train_base
from ponder.types import PonderError

SMALL = [
    "layers=1",
    "hidden=32",
    "batch_size=8",
    "bucket_batches=2",
    "optim.warmup_steps=2",
    "run.max_minutes=1000",
    "run.threads=1",
    "run.steps=6",
    "run.save_every=3",
    "run.progress=false",
    "tasks={arithmetic: 1.0, countdown: 1.0}",
]


def _cfg(out):
    return load_config(BaseConfig, None, [*SMALL, f"run.out={out}"])


def _weights(folder):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder).state_dict()


def test_curriculum_moves_from_easy_to_hard():
    assert level_weights(3, 0.0) == [3, 2, 1] and level_weights(3, 1.0) == [1, 2, 3]


def test_kill_and_resume_matches_unbroken_run(tmp_path, monkeypatch):
    assert train_base(_cfg(tmp_path / "a"))["steps"] == 6
    unbroken = _weights(tmp_path / "a" / "ckpt-000006")

    real_step, calls = base._train_step, []

    def dies_at_step_5(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:  # killed after the step-3 checkpoint, mid-way through step 5
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(base, "_train_step", dies_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        train_base(_cfg(tmp_path / "b"))
    monkeypatch.setattr(base, "_train_step", real_step)
    train_base(_cfg(tmp_path / "b"))
    resumed = _weights(tmp_path / "b" / "ckpt-000006")
    for name, value in unbroken.items():
        assert torch.equal(value, resumed[name]), name
    steps = [json.loads(x)["step"] for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_install_copies_model_without_trainer_state(tmp_path, monkeypatch):
    import ponder.models

    target = tmp_path / "installed"
    monkeypatch.setattr(ponder.models, "TINY_DIR", target)
    assert base.main([f"--run.out={tmp_path / 'r'}", *[f"--{a}" for a in SMALL], "--run.steps=2", "--install"]) == 0
    assert (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file()
    assert not (target / "trainer_state.pt").exists() and not (target / "checksums.json").exists()


def test_train_base_rejects_bad_config_before_training(tmp_path):
    with pytest.raises(PonderError, match="must be an integer"):
        base.main([f"--run.out={tmp_path}/x", "--run.steps=lots"])
    with pytest.raises(PonderError, match="unknown config key 'lrate'"):
        base.main([f"--run.out={tmp_path}/x", "--lrate=1"])
    with pytest.raises(PonderError, match="unknown task"):
        base.main([f"--run.out={tmp_path}/x", "--tasks={nosuch: 1.0}"])
    assert not (tmp_path / "x").exists()


def test_onpolicy_pool_is_refreshed_from_the_live_model_and_mixed_into_batches(tmp_path, monkeypatch):
    """`onpolicy`: every `every` steps the live weights answer fresh problems; a share of each
    batch is their corrected traces (pieces, not strings), and the refresh's stats are logged."""
    seen = []
    real_step = base._train_step
    monkeypatch.setattr(base, "_train_step", lambda sess, pairs, *a: seen.append(pairs) or real_step(sess, pairs, *a))
    over = ["init=tiny", "run.steps=5", "bucket_batches=1", "onpolicy={share: 0.5, every: 2, pool: 6, max_tokens: 120}"]
    cfg = load_config(BaseConfig, None, [*SMALL, *over, f"run.out={tmp_path}"])
    train_base(cfg)
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "onpolicy_examples" in r] == [1, 3, 5]  # refreshed every 2 steps
    assert all(r["onpolicy_examples"] > 0 for r in rows if "onpolicy_examples" in r)
    assert [sum(not isinstance(resp, str) for _, resp in pairs) for pairs in seen] == [4] * 5  # 0.5 of 8


def test_onpolicy_rejects_a_task_without_correction(tmp_path):
    with pytest.raises(PonderError, match="no correction"):
        train_base(
            load_config(BaseConfig, None, [*SMALL, f"run.out={tmp_path}", "onpolicy={share: 0.3, tasks: {knights: 1}}"])
        )
