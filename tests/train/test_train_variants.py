"""Every GRPO-family preset trains end to end: on a small model with a scripted generator (fast),
and from the CLI on the built-in tiny reasoner with its recipe (slow); zero-variance filtering
never crashes on an all-equal batch; on-policy distillation moves the student toward a teacher."""

import json
from pathlib import Path

import pytest
import torch
from train_fixtures import accuracy_is_one, answer_is_one, grpo_config, script_half_right, small_model

from ponder.gen.fake import FakeGenerator
from ponder.train.grpo import train_grpo
from ponder.types import PonderError

PRESETS = ["grpo", "dr_grpo", "dapo", "gspo", "cispo", "rloo", "reinforce_pp"]
RECIPES = Path(__file__).parents[2] / "recipes"


def _cfg(tmp_path, **over):
    """The shared small GRPO config at two steps of two epochs (so ratios move off 1)."""
    return grpo_config(tmp_path, steps=2, **{"algo.epochs": 2, **over})


def _rows(path):
    return [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines() if '"loss"' in line]


@pytest.mark.parametrize("preset", [*PRESETS, "grpo+k2_in_reward", "grpo+entropy+dual_clip", "dapo+prompt_mean"])
def test_every_preset_changes_params_with_finite_loss(tmp_path, preset):
    name, _, variant = preset.partition("+")
    extra = {
        "": {},
        "k2_in_reward": {"algo.kl_estimator": "k2", "algo.kl_in_reward": "true"},
        "entropy+dual_clip": {"algo.entropy_coef": 0.01, "algo.dual_clip": 3.0},
        "prompt_mean": {"algo.loss_agg": "prompt_mean"},
    }[variant]
    model, tok = small_model()
    before = [p.detach().clone() for p in model.parameters()]
    cfg = _cfg(tmp_path, preset=name, **extra)
    gen = FakeGenerator(script_half_right)
    train_grpo(cfg, model=model, tokenizer=tok, generator=gen, reward_fn=answer_is_one, accuracy_fn=accuracy_is_one)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    rows = _rows(tmp_path)
    assert len(rows) == 2 and all(torch.isfinite(torch.tensor([r["loss"], r["grad_norm"]])).all() for r in rows)


def test_zero_variance_filter_on_an_all_equal_batch_does_not_crash(tmp_path):
    model, tok = small_model()
    before = [p.detach().clone() for p in model.parameters()]
    gen = FakeGenerator(lambda prompt, i: "<think>1</think>\n<answer>1</answer>")  # every reward 1
    cfg = _cfg(tmp_path, preset="dapo", **{"algo.max_refill": 2})
    summary = train_grpo(
        cfg, model=model, tokenizer=tok, generator=gen, reward_fn=answer_is_one, accuracy_fn=accuracy_is_one
    )
    assert summary["steps"] == 2
    rows = _rows(tmp_path)
    assert [r["gen_rounds"] for r in rows] == [3, 3]  # one round plus at most max_refill extra
    assert all(r["zero_var_frac"] == 1.0 and r["loss"] == 0.0 for r in rows)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # no signal, no update


def test_zero_variance_filter_refills_with_groups_that_carry_signal(tmp_path):
    def script(prompt, i):  # problems whose question holds "+" get mixed answers, others all "1"
        return f"<answer>{1 if '+' not in prompt or i % 2 else 2}</answer>"

    model, tok = small_model()
    cfg = _cfg(tmp_path, preset="dapo", **{"run.steps": 1, "data.n": 40})
    train_grpo(
        cfg,
        model=model,
        tokenizer=tok,
        generator=FakeGenerator(script),
        reward_fn=answer_is_one,
        accuracy_fn=accuracy_is_one,
    )
    row = _rows(tmp_path)[0]
    assert row["accuracy"] == 0.5  # every kept group is half right: the all-equal ones were refilled
    assert 1 <= row["gen_rounds"] <= 4


def test_on_policy_distillation_pulls_the_student_to_the_teacher(tmp_path):
    teacher, tok = small_model(seed=1)
    teacher.save_pretrained(tmp_path / "teacher")
    tok.save_pretrained(tmp_path / "teacher")
    with pytest.raises(PonderError, match="teacher"):
        _cfg(tmp_path / "x", preset="opd")
    model, _ = small_model(seed=0)
    cfg = _cfg(tmp_path / "run", preset="opd", teacher=str(tmp_path / "teacher"), **{"run.steps": 4, "algo.epochs": 1})
    gen = FakeGenerator(script_half_right)
    train_grpo(cfg, model=model, tokenizer=tok, generator=gen, reward_fn=answer_is_one, accuracy_fn=accuracy_is_one)
    kl = [r["teacher_kl"] for r in _rows(tmp_path / "run")]
    assert kl[0] > 0 and kl[-1] < kl[0]  # the reverse KL on the same scripted responses falls


@pytest.mark.slow  # ~20 s per preset on the shared machine
@pytest.mark.parametrize("preset", [*PRESETS, "opd"])
def test_cli_recipe_runs_on_the_tiny_reasoner(tmp_path, preset):
    from safetensors.torch import load_file

    from ponder.cli import main
    from ponder.models import resolve_model

    recipe = RECIPES / f"{preset}_countdown_tiny.yaml"
    over = ["--run.steps=2", "--rollout.prompts_per_step=2", "--rollout.group_size=4", "--rollout.max_tokens=64"]
    over += [f"--run.out={tmp_path}", "--run.progress=false", "--run.save_every=2", "--eval.n=0", "--data.n=50"]
    over += ["--optim.lr=1e-3", "--run.max_minutes=0"]
    assert main(["train", "grpo", str(recipe), *over]) == 0
    start = load_file(str(Path(resolve_model("tiny")) / "model.safetensors"))
    end = load_file(str(tmp_path / "ckpt-000002" / "model.safetensors"))
    assert any(not torch.equal(start[k], end[k]) for k in start if k in end)
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in _rows(tmp_path))


def test_sequence_kl_for_the_reward_matches_a_loop():
    from ponder.train import policy_update
    from ponder.train.batch import Seq, collate, forward_logprobs
    from ponder.train.losses import kl_penalty

    model, _ = small_model(seed=0)
    ref, _ = small_model(seed=1)
    seqs = [Seq(ids=[1, 5, 6, 7, 2], start=2), Seq(ids=[1, 9, 8], start=2), Seq(ids=[1, 4, 4, 4], start=2)]
    mbs = policy_update.make_micro_batches(seqs, torch.zeros(3), torch.ones(3), micro_batch=2, pad_id=0)
    got = policy_update.sequence_kl(model, ref, mbs, 3, "k3")
    assert torch.equal(policy_update.sequence_kl(model, model, mbs, 3, "k3"), torch.zeros(3))
    for i, s in enumerate(seqs):  # one sequence at a time, no padding
        with torch.no_grad():
            b = collate([s], 0)
            kl = kl_penalty(forward_logprobs(model, b)[0], forward_logprobs(ref, b)[0], kind="k3")
        assert got[i].item() == pytest.approx(float((kl * b.loss_mask).sum()), rel=1e-5)
