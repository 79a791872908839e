"""Bad input fails before training starts, with a message naming the thing and the fix; the
health check warns on no-op and collapsing runs."""

import json
import math

import pytest
from train_fixtures import answer_is_one, script_half_right, small_model

from ponder.config import load_config
from ponder.gen.fake import FakeGenerator
from ponder.train.cli import load_method_config, main
from ponder.train.common import load_policy
from ponder.train.grpo import GRPOConfig, train_grpo
from ponder.train.health import HealthCheck
from ponder.types import PonderError


def test_recipe_unknown_key_and_wrong_type(tmp_path):
    r = tmp_path / "r.yaml"
    r.write_text("optim:\n  lrr: 0.1\n")
    with pytest.raises(PonderError, match=r"unknown config key optim\.'lrr'.*Did you mean 'lr'"):
        load_method_config("grpo", [str(r)])
    r.write_text("rollout:\n  group_size: eight\n")
    with pytest.raises(PonderError, match="rollout.group_size.*integer"):
        load_method_config("grpo", [str(r)])
    with pytest.raises(PonderError, match="unknown loss aggregation 'mean'.*token_mean"):
        load_method_config("grpo", ["--algo.loss_agg=mean"])
    cfg, _ = load_method_config("grpo", ["--optim.lr=3e-5"])
    assert cfg.optim.lr == 3e-5


def test_unknown_method_lists_known():
    with pytest.raises(PonderError, match="grpo"):
        load_method_config("ppo", [])
    assert main(["--help"]) == 0


def _grpo(tmp_path, reward):
    model, tok = small_model()
    cfg = load_config(
        GRPOConfig,
        None,
        [
            f"run.out={tmp_path}",
            "run.steps=1",
            "run.progress=false",
            "data.task=arithmetic",
            "data.n=4",
            "rollout.prompts_per_step=2",
            "rollout.group_size=2",
            "rollout.max_tokens=48",
        ],
    )
    return train_grpo(
        cfg,
        model=model,
        tokenizer=tok,
        generator=FakeGenerator(script_half_right),
        reward_fn=reward,
        accuracy_fn=lambda p, r: [False] * len(r),
    )


@pytest.mark.parametrize("bad", [None, math.nan, "1"])
def test_reward_returning_nan_or_none_everywhere_fails_before_training(tmp_path, bad):
    def reward(prompts, completions, **columns):
        return [bad] * len(completions)

    reward.__name__ = "broken"
    with pytest.raises(PonderError, match="reward 'broken' returned"):
        _grpo(tmp_path, reward)
    assert not (tmp_path / "metrics.jsonl").exists()


def test_reward_wrong_length_is_an_error(tmp_path):
    with pytest.raises(PonderError, match="returned 1 values"):
        _grpo(tmp_path, lambda prompts, completions, **columns: [0.0])


def test_reward_with_the_old_signature_is_a_clear_error(tmp_path):
    def old(problems, responses):
        return [0.0] * len(responses)

    with pytest.raises(PonderError, match=r"reward 'old' has the signature .*fn\(prompts, completions, \*\*columns\)"):
        _grpo(tmp_path, old)


def test_none_means_not_applicable_and_training_goes_on(tmp_path):
    def half(prompts, completions, problem_id, **columns):  # applies to every other problem only
        return [
            None if int(pid.rsplit("-", 1)[1]) % 2 else float(len(c) % 3) for pid, c in zip(problem_id, completions)
        ]

    assert _grpo(tmp_path, half)["steps"] == 1
    row = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert 0 < row["reward_none_frac"] < 1


def test_model_without_tokenizer_is_a_clear_error(tmp_path):
    model, _ = small_model()
    model.save_pretrained(tmp_path / "m")
    with pytest.raises(PonderError, match="no tokenizer"):
        load_policy(str(tmp_path / "m"))


def test_grpo_runs_with_a_working_reward(tmp_path):
    assert _grpo(tmp_path, answer_is_one)["steps"] == 1


def _feed(hc, rows):
    out = []
    for r in rows:
        out += hc.update(r)
    return out


def test_health_warns_on_zero_variance_truncation_and_collapse():
    hc = HealthCheck(window=3)
    warns = _feed(hc, [{"zero_var_frac": 1.0, "truncation_rate": 1.0, "response_len": 100, "entropy": 2.0}] * 3)
    assert any("zero reward variance" in w for w in warns) and any("truncated" in w for w in warns)
    hc = HealthCheck(window=3)
    rows = [{"zero_var_frac": 0.2, "truncation_rate": 0.0, "response_len": 100, "entropy": 2.0}]
    rows += [{"zero_var_frac": 0.2, "truncation_rate": 0.0, "response_len": 10, "entropy": 0.1}] * 3
    warns = _feed(hc, rows)
    assert any("length collapse" in w for w in warns) and any("entropy collapse" in w for w in warns)


def test_health_warns_when_format_rises_but_accuracy_is_flat():
    hc = HealthCheck(window=2)
    rows = [{"reward/format": 0.1, "accuracy": 0.3}] * 2 + [{"reward/format": 0.9, "accuracy": 0.3}] * 2
    assert any("format reward rose" in w for w in _feed(hc, rows))
    hc = HealthCheck(window=2)
    rows = [{"reward/format": 0.1, "accuracy": 0.3}] * 2 + [{"reward/format": 0.9, "accuracy": 0.6}] * 2
    assert not _feed(hc, rows)


def test_healthy_run_raises_no_warning():
    hc = HealthCheck(window=2)
    assert not _feed(hc, [{"zero_var_frac": 0.3, "truncation_rate": 0.05, "response_len": 60, "entropy": 1.0}] * 6)
