"""Base training of the tiny reasoner: curriculum, and a run killed mid-way resumes to exactly
the weights of an unbroken run with the same seed."""

import pytest
import torch

import ponder.models.tiny.train as base
from ponder.models.tiny.train import BaseTrainConfig, level_weights, train

SMALL = dict(
    layers=1,
    hidden=32,
    batch_size=8,
    bucket_batches=2,
    warmup=2,
    max_minutes=1000.0,
    threads=1,
    max_steps=6,
    save_every=3,
    tasks={"arithmetic": 1.0, "countdown": 1.0},
)


def _weights(folder):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder).state_dict()


def test_curriculum_moves_from_easy_to_hard():
    assert level_weights(3, 0.0) == [3, 2, 1] and level_weights(3, 1.0) == [1, 2, 3]


def test_kill_and_resume_matches_unbroken_run(tmp_path, monkeypatch):
    unbroken = _weights(train(BaseTrainConfig(out=str(tmp_path / "a"), **SMALL)))

    real_step, calls = base._train_step, []

    def dies_at_step_5(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:  # killed after the step-3 checkpoint, mid-way through step 5
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(base, "_train_step", dies_at_step_5)
    cfg = BaseTrainConfig(out=str(tmp_path / "b"), **SMALL)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(base, "_train_step", real_step)
    resumed = _weights(train(cfg, resume=True))
    for name, value in unbroken.items():
        assert torch.allclose(value, resumed[name], atol=1e-6), name
    losses = [line for line in (tmp_path / "a" / "train_log.jsonl").read_text().splitlines()]
    assert len(losses) == 6
