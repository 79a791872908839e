"""Metrics, the rejection filter and GRPO rewards, the critique judge, and the CLI."""

import json
import math

import pytest
import torch

from ponder.gen.fake import FakeGenerator
from ponder.rm.critic import Critic, verdict_score
from ponder.rm.quality import error_f1, processbench, step_agreement
from ponder.rm.reward import PRMReward, keep_mask, process_advantages, step_token_ends
from ponder.types import PonderError, Problem
from ponder.verify.rewards import call_reward

P = Problem(id="p0", task="arithmetic", question="2+3*4=?", answer="14")


def test_step_agreement_and_error_f1_golden():
    pred = [[0.9, 0.4, 0.1], [0.8, None]]
    truth = [[1.0, 1.0, 0.0], [1.0, 0.0]]
    agr = step_agreement(pred, truth)
    assert agr["n"] == 4 and agr["accuracy"] == pytest.approx(3 / 4)
    assert agr["mae"] == pytest.approx((0.1 + 0.6 + 0.1 + 0.2) / 4)
    f = error_f1(pred, truth)  # errors predicted at steps (0,1),(0,2); true errors at (0,2)
    assert f["precision"] == pytest.approx(0.5) and f["recall"] == pytest.approx(1.0)
    with pytest.raises(PonderError, match="2 predicted step labels but 3"):
        step_agreement([[1, 1]], [[1, 1, 1]])


def test_processbench_golden():
    truth = [[1.0, 0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]
    pred = [[0.9, 0.2, 0.9], [0.9, 0.3], [0.1, 0.9]]
    pb = processbench(pred, truth)
    assert pb["acc_error"] == 1.0 and pb["acc_correct"] == 0.0 and pb["f1"] == 0.0
    pb = processbench([[0.9, 0.9, 0.1], [0.9, 0.9], [0.1, 0.1]], truth)
    assert pb["acc_error"] == 0.5 and pb["acc_correct"] == 1.0 and pb["f1"] == pytest.approx(2 / 3)


class ConstScorer:
    """Step scores 0.9 for steps with '=12', else 0.2 (stands in for a PRM)."""

    class model:  # noqa: N801
        delimiter = "\n"

    def score_steps(self, problems, steps):
        return [[0.9 if "=12" in s else 0.2 for s in trace] for trace in steps]


def test_keep_mask_and_prm_reward():
    good, bad = "<think>3*4=12\n<answer>14</answer>", "<think>3*4=13\n<answer>15</answer>"
    assert keep_mask(ConstScorer(), [P, P], [good, bad], threshold=0.5, agg="mean") == [True, False]
    assert keep_mask(ConstScorer(), [P], [good], threshold=0.5, agg="min") == [False]
    reward = PRMReward(ConstScorer(), outcome=lambda prompts, completions, **kw: [1.0, 0.0], weight=0.5, agg="mean")
    assert call_reward(reward, ["q", "q"], [good, bad], [P, P]) == pytest.approx([1.0 + 0.5 * 0.55, 0.1])
    no_verdict = PRMReward(ConstScorer(), outcome=lambda prompts, completions, **kw: [None, 0.0], weight=0.5)
    assert call_reward(no_verdict, ["q", "q"], [good, bad], [P, P]) == [None, pytest.approx(0.1)]


def test_process_advantages_golden():
    # group of 2: rewards [1, 0] and [0]; mean 1/3, std (unbiased) 0.57735
    adv = process_advantages([[1.0, 0.0], [0.0]], [[1, 3], [2]], [4, 3])
    hi, lo = (1 - 1 / 3) / 0.57735, (0 - 1 / 3) / 0.57735
    expected = torch.tensor([[hi + lo, hi + lo, lo, lo], [lo, lo, lo, 0.0]])
    assert torch.allclose(adv, expected, atol=1e-4)
    assert step_token_ends(["ab\n", "c"], lambda i: i) == [2, 3]
    with pytest.raises(PonderError, match="2 step rewards but 1"):
        process_advantages([[1.0, 0.0]], [[1]], [3])


def test_verdict_score():
    assert verdict_score(" yes", [-0.1, math.log(0.8), -0.1, -0.1]) == pytest.approx(0.8)
    assert verdict_score(" no", [-0.1, math.log(0.7), -0.1]) == pytest.approx(0.3)
    assert verdict_score(" maybe", None) == 0.5
    assert verdict_score("yes", None) == 1.0


def test_critic_two_batched_calls_and_no_answer_leak():
    def script(prompt, i):
        if prompt.endswith("Verdict:"):
            return " yes" if "=12" in prompt else " no"
        return " the multiplication looks right. Verdict: yes" if "=12" in prompt else " 3*4 is not 13. Verdict: no"

    gen = FakeGenerator(script, logprob=math.log(0.9))
    critic = Critic(gen)
    js = critic.judge([P, P], ["<think>3*4=12\n<answer>14</answer>", "<think>3*4=13\n<answer>15</answer>"])
    assert [j.verdict for j in js] == ["yes", "no"]
    assert [j.score for j in js] == pytest.approx([0.9, 0.1])
    assert js[1].critique == "3*4 is not 13."
    assert len(gen.calls) == 2 and all("14" not in p.split("Solution")[0] for p in gen.calls[0][0])
    assert critic.tokens_scored > 0


def test_label_cli_import(tmp_path):
    from ponder.cli import main

    src = tmp_path / "prm800k.jsonl"
    rec = {
        "question": {"problem": "1+1?"},
        "label": {"steps": [{"completions": [{"text": "2", "rating": 1}], "chosen_completion": 0}]},
    }
    src.write_text(json.dumps(rec) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["label", "--import", "prm800k", str(src), "--out", str(out)]) == 0
    (line,) = out.read_text().splitlines()
    assert json.loads(line)["labels"] == [1.0] and json.loads(line)["kind"] == "prm800k"
    assert main(["label", "--import", "prm800k", "--out", str(out)]) == 2  # missing file: one-line error


def test_train_cli_on_random_backbone(tmp_path):
    from ponder.models.tiny.build import build_model
    from ponder.rm.cli import train_orm_main
    from ponder.rm.labels import LabeledTrace
    from ponder.rm.model import load_reward_model
    from ponder.steps import split_steps

    model, tok = build_model(
        num_hidden_layers=1, hidden_size=32, intermediate_size=64, num_attention_heads=2, num_key_value_heads=2
    )
    model.save_pretrained(tmp_path / "bb")
    tok.save_pretrained(tmp_path / "bb")
    data = tmp_path / "labels.jsonl"
    recs = [
        LabeledTrace(
            f"t{i}",
            Problem(id=f"q{i}", task="arithmetic", question=f"{i}+1=?"),
            split_steps(f"<think>{i}+1={i + 1}\n<answer>{i + 1}</answer>"),
            [None, None],
            "outcome",
            outcome=float(i % 2),
        )
        for i in range(8)
    ]
    data.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in recs))
    out = tmp_path / "orm"
    assert (
        train_orm_main(
            [
                f"--data={data}",
                f"--backbone={tmp_path / 'bb'}",
                f"--run.out={out}",
                "--run.steps=3",
                "--run.progress=false",
                "--batch_size=4",
                "--val_frac=0.25",
            ]
        )
        == 0
    )
    assert load_reward_model(out, kind="orm").kind == "orm"
    summary = json.loads((out / "summary.json").read_text())
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert summary["heldout"]["n"] == 2 and steps == [1, 2, 3, 3]  # three steps, then the held-out loss


def test_recipes_load():
    from pathlib import Path

    from ponder.config import load_config
    from ponder.rm.train import RMTrainConfig

    root = Path(__file__).resolve().parents[2] / "recipes"
    files = sorted(root.glob("prm*.yaml")) + sorted(root.glob("orm*.yaml"))
    assert files
    for f in files:
        cfg = load_config(RMTrainConfig, f)
        assert cfg.kind == f.name[:3]


def test_undefined_metrics_are_none():
    assert step_agreement([[None]], [[1.0]])["accuracy"] is None
    pb = processbench([[0.9]], [[1.0]])
    assert pb["acc_correct"] == 1.0 and pb["acc_error"] is None and pb["f1"] is None


def test_step_agreement_per_class():
    agr = step_agreement([[0.9, 0.9, 0.1, 0.9]], [[1.0, 1.0, 0.0, 0.0]])
    assert agr["acc_valid"] == 1.0 and agr["acc_error"] == 0.5 and agr["balanced"] == 0.75


def test_step_auroc_matches_pairwise_count():
    import itertools
    import random

    from ponder.rm.quality import step_auroc

    rng = random.Random(0)
    pred = [[rng.choice([0.1, 0.3, 0.5, 0.7]) for _ in range(6)] for _ in range(5)]
    truth = [[rng.choice([0.0, 1.0]) for _ in range(6)] for _ in range(5)]
    flat = [(a, b) for p, t in zip(pred, truth) for a, b in zip(p, t)]
    pos = [a for a, b in flat if b == 1.0]
    neg = [a for a, b in flat if b == 0.0]
    slow = sum(1.0 if x > y else 0.5 if x == y else 0.0 for x, y in itertools.product(pos, neg)) / (len(pos) * len(neg))
    assert step_auroc(pred, truth) == pytest.approx(slow)
    assert step_auroc([[0.9, 0.1]], [[1.0, 0.0]]) == 1.0 and step_auroc([[0.9]], [[1.0]]) is None
