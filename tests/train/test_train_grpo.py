"""GRPO on the tiny reasoner: a few steps change the parameters with finite loss; gradient
accumulation is exact; a killed run resumes to the same weights as an unbroken one."""

import dataclasses
import json

import pytest
import torch
from train_fixtures import (
    accuracy_is_one,
    answer_is_one,
    contains_seven,
    grpo_config,
    script_half_right,
    small_model,
)

from ponder.config import load_config
from ponder.gen.fake import FakeGenerator
from ponder.train import policy_update
from ponder.train.batch import Seq
from ponder.train.grpo import GRPOConfig, train_grpo
from ponder.train.presets import PRESETS, resolve_switches
from ponder.types import PonderError


@pytest.mark.parametrize("preset", ["grpo", "dr_grpo", "dapo"])
def test_grpo_smoke_changes_params(tmp_path, preset):
    model, tok = small_model()
    before = [p.detach().clone() for p in model.parameters()]
    cfg = grpo_config(tmp_path, preset=preset)
    summary = train_grpo(
        cfg,
        model=model,
        tokenizer=tok,
        generator=FakeGenerator(script_half_right),
        reward_fn=answer_is_one,
        accuracy_fn=accuracy_is_one,
    )
    assert summary["steps"] == 3
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    for key in ("reward_mean", "accuracy", "zero_var_frac", "clip_frac", "kl", "entropy", "grad_norm", "tokens_per_s"):
        assert all(torch.isfinite(torch.tensor(float(r[key]))) for r in rows), key
    assert rows[0]["accuracy"] == 0.5 and rows[0]["zero_var_frac"] == 0.0
    assert (tmp_path / "ckpt-000003" / "model.safetensors").is_file()
    assert (tmp_path / "ckpt-000003" / "tokenizer.json").is_file()


def test_no_reference_model_when_kl_is_zero(tmp_path):
    model, tok = small_model()
    from ponder.train import grpo as grpo_mod

    seen = {}
    orig = grpo_mod.policy_update.update

    def spy(model_, ref, *a, **k):
        seen["ref"] = ref
        return orig(model_, ref, *a, **k)

    grpo_mod.policy_update.update = spy
    try:
        train_grpo(
            grpo_config(tmp_path, preset="dr_grpo", **{"run.steps": 1}),
            model=model,
            tokenizer=tok,
            generator=FakeGenerator(script_half_right),
            reward_fn=answer_is_one,
            accuracy_fn=accuracy_is_one,
        )
    finally:
        grpo_mod.policy_update.update = orig
    assert seen["ref"] is None


def _grads(model, seqs, adv, sw, micro):
    model.zero_grad()
    mbs = policy_update.make_micro_batches(
        seqs, adv, torch.ones(len(seqs)), micro_batch=micro, pad_id=0, groups=torch.arange(len(seqs)) // 4
    )
    policy_update.fill_old_and_ref(model, model if sw.kl_coef else None, mbs, need_old=True)
    policy_update.accumulate(model, mbs, sw, max_tokens=16)
    return [p.grad.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("agg", ["seq_mean_token_mean", "token_mean", "seq_mean_token_sum_norm", "prompt_mean"])
def test_batch_of_8_equals_4_micro_batches_of_2(agg):
    model, _ = small_model()
    g = torch.Generator().manual_seed(0)
    seqs = [Seq(ids=torch.randint(3, 90, (5 + i,), generator=g).tolist(), start=3) for i in range(8)]
    adv = torch.randn(8, generator=g)
    sw = resolve_switches("grpo", {"loss_agg": agg, "kl_coef": 0.1})
    full, parts = _grads(model, seqs, adv, sw, 8), _grads(model, seqs, adv, sw, 2)
    for a, b in zip(full, parts):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)


def _live_run(tmp_path, steps, fail_at=None):
    from ponder.gen.hf import HFGenerator

    model, tok = small_model(seed=3)
    gen = HFGenerator.from_model(model, tok)
    if fail_at is not None:
        inner = gen.generate

        def generate(prompts, params):
            if gen.calls == fail_at:
                raise KeyboardInterrupt("killed")
            gen.calls += 1
            return inner(prompts, params)

        gen.calls = 0
        gen.generate = generate
    cfg = grpo_config(
        tmp_path,
        **{"run.steps": steps, "run.save_every": 2, "rollout.max_tokens": 8, "optim.lr": 1e-2, "algo.epochs": 2},
    )
    train_grpo(cfg, model=model, tokenizer=tok, generator=gen, reward_fn=contains_seven, accuracy_fn=accuracy_is_one)
    return model


def test_kill_and_resume_matches_unbroken_run(tmp_path):
    unbroken = _live_run(tmp_path / "a", steps=3)
    with pytest.raises(KeyboardInterrupt):
        _live_run(tmp_path / "b", steps=3, fail_at=2)  # dies in step 3, after the step-2 checkpoint
    resumed = _live_run(tmp_path / "b", steps=3)
    for a, b in zip(unbroken.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    steps = [json.loads(x)["step"] for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]


def test_presets_are_pinned_and_unknown_lists_known():
    assert PRESETS.get("dapo").eps_high == 0.28 and PRESETS.get("dapo").dynamic_sampling
    assert PRESETS.get("dr_grpo").adv_scale == "none" and PRESETS.get("dr_grpo").loss_agg == "seq_mean_token_sum_norm"
    assert dataclasses.replace(PRESETS.get("grpo")).kl_coef == 0.04
    with pytest.raises(PonderError, match="dapo"):
        resolve_switches("dapoo")


def test_each_response_is_verified_once_per_step(tmp_path, monkeypatch):
    """The accuracy reward and the accuracy metric share one verdict per response."""
    import ponder.verify as verify_mod

    seen: list[str] = []
    real = verify_mod.get_verifier

    def counting(name, **kw):
        inner = real(name, **kw)

        def scored(problems, responses):
            seen.extend(responses)
            return inner(problems, responses)

        return scored

    monkeypatch.setattr(verify_mod, "get_verifier", counting)
    model, tok = small_model()
    cfg = grpo_config(tmp_path, **{"run.steps": 1, "reward": "accuracy", "eval.n": 0})
    gen = FakeGenerator(script_half_right)
    inner = gen.generate

    def generate(prompts, params):
        seen.clear()  # forget the reward's preflight before training; count the step only
        return inner(prompts, params)

    gen.generate = generate
    train_grpo(cfg, model=model, tokenizer=tok, generator=gen)
    assert len(seen) == 2 * 4  # prompts_per_step * group_size, not twice that


def test_algo_switches_are_checked_against_the_one_switch_class():
    with pytest.raises(PonderError, match=r"algo\.'eps_hi'.*Known keys"):
        load_config(GRPOConfig, None, ["algo.eps_hi=0.3"])
    cfg = load_config(GRPOConfig, None, ["preset=dapo", "algo.kl_coef=0.04"])
    sw = resolve_switches(cfg.preset, cfg.algo)
    assert sw.kl_coef == 0.04 and sw.eps_high == 0.28  # the change applies on top of the preset
