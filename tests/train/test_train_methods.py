"""RFT, STaR, DPO and the curriculum on the tiny reasoner with scripted generators: parameters
change, losses are finite, the data each method builds is the data the paper prescribes."""

import json

import pytest
import torch
from train_fixtures import small_model

from ponder.config import load_config
from ponder.gen.fake import FakeGenerator
from ponder.train.curriculum import easy_to_hard, learnability_weights
from ponder.train.dpo import DPOConfig, make_pairs, train_dpo
from ponder.train.rft import RFTConfig, train_rft
from ponder.train.star import STaRConfig, train_star


def _acc(problems, responses):
    return [f"<answer>{p.answer}</answer>" in r for p, r in zip(problems, responses)]


def _script(prompt: str, i: int) -> str:
    """Right on odd samples for problems whose question holds '+', always wrong otherwise —
    unless the hint gives the answer away."""
    if "(the answer is " in prompt:
        ans = prompt.split("(the answer is ")[1].split(")")[0]
        return f"<think>hint</think>\n<answer>{ans}</answer>"
    return "<think>try</think>\n<answer>?</answer>" if i % 2 == 0 else "<think>ok</think>\n<answer>!</answer>"


def _common(tmp_path):
    return [
        f"run.out={tmp_path}",
        "run.progress=false",
        "run.save_every=0",
        "data.task=arithmetic",
        "data.n=6",
        "k=4",
        "max_tokens=48",
        "batch_size=4",
        "micro_batch=2",
        "optim.lr=0.001",
    ]


def test_rft_rounds_fine_tune_on_verified_traces(tmp_path):
    model, tok = small_model()
    before = [p.detach().clone() for p in model.parameters()]
    cfg = load_config(RFTConfig, None, [*_common(tmp_path), "rounds=2", "steps_per_round=2"])

    def acc(problems, responses):  # the "!" answer is right for every other problem
        return [
            r.endswith("<answer>!</answer>") and int(p.id.rsplit("-", 1)[1]) % 2 == 0
            for p, r in zip(problems, responses)
        ]

    summary = train_rft(cfg, model=model, tokenizer=tok, generator=FakeGenerator(_script), accuracy_fn=acc)
    assert summary["steps"] == 4
    assert summary["rounds"]["round_0"]["kept"] == 3  # 3 of 6 problems solved, one distinct trace each
    recs = [json.loads(x) for x in (tmp_path / "round-0.jsonl").read_text().splitlines()]
    assert all(r["response"].endswith("<answer>!</answer>") for r in recs)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_star_rationalises_failed_problems_without_the_hint(tmp_path):
    model, tok = small_model()
    cfg = load_config(STaRConfig, None, [*_common(tmp_path), "rounds=1", "steps_per_round=2"])
    summary = train_star(cfg, model=model, tokenizer=tok, generator=FakeGenerator(_script), accuracy_fn=_acc)
    stats = summary["rounds"]["round_0"]
    assert stats["failed"] == 6 and stats["rationalized"] == 6
    recs = [json.loads(x) for x in (tmp_path / "round-0.jsonl").read_text().splitlines()]
    assert all("answer is" not in r["question"] and r["response"].startswith("<think>hint") for r in recs)


def test_make_pairs_pairs_correct_with_failed_of_the_same_problem():
    by_id = {
        "a": {"good": ["g1"], "bad": ["b1", "b2"]},
        "b": {"good": [], "bad": ["x"]},
        "c": {"good": ["y"], "bad": []},
    }
    pairs = make_pairs(by_id, {"a": "qa", "b": "qb", "c": "qc"}, per_problem=2, seed=0)
    assert len(pairs) == 1 and pairs[0]["chosen"] == "g1" and pairs[0]["rejected"] in ("b1", "b2")


def test_dpo_trains_against_frozen_reference(tmp_path):
    model, tok = small_model()
    before = [p.detach().clone() for p in model.parameters()]
    cfg = load_config(DPOConfig, None, [*_common(tmp_path), "run.steps=3", "optim.lr=0.003"])

    def acc(problems, responses):
        return [r.endswith("<answer>!</answer>") for r in responses]

    train_dpo(cfg, model=model, tokenizer=tok, generator=FakeGenerator(_script), accuracy_fn=acc)
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["loss"] == pytest.approx(0.6931, abs=1e-3)  # policy == reference at step 1: -log sigmoid(0)
    assert rows[-1]["loss"] < rows[0]["loss"] and rows[-1]["pref_acc"] == 1.0
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_curriculum_orders_easy_to_hard_and_weights_learnability():
    rates = [0.0, 0.75, 0.5, 1.0]
    assert easy_to_hard(rates, seed=0) == [3, 1, 2, 0]
    w = learnability_weights(rates)
    assert w[2] == 0.25 and w[1] == pytest.approx(0.1875) and w[0] == w[3] == 0.02


def test_dpo_with_lora_bf16_and_checkpointing_uses_the_adapter_off_reference(tmp_path):
    """The train: block on DPO: the loss starts at log 2 (the adapter-off reference is the
    policy before training) and falls; only adapters change."""
    pytest.importorskip("peft")
    model, tok = small_model()
    base = {n: p.detach().clone() for n, p in model.named_parameters()}
    train = ["train.lora.r=4", "train.precision=bf16", "train.grad_checkpointing=true"]
    cfg = load_config(DPOConfig, None, [*_common(tmp_path), "run.steps=3", "optim.lr=0.03", *train])

    def acc(problems, responses):
        return [r.endswith("<answer>!</answer>") for r in responses]

    train_dpo(cfg, model=model, tokenizer=tok, generator=FakeGenerator(_script), accuracy_fn=acc)
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["loss"] == pytest.approx(0.6931, abs=1e-3)
    assert rows[-1]["loss"] < rows[0]["loss"]
    for n, p in model.named_parameters():  # peft wrapped the layers in place; base weights unchanged
        if "lora_" not in n:
            assert torch.equal(p, base[n.replace(".base_layer", "")]), n


def test_rft_runs_in_bf16_with_checkpointing(tmp_path):
    model, tok = small_model()
    over = ["rounds=1", "steps_per_round=2", "train.precision=bf16", "train.grad_checkpointing=true"]
    cfg = load_config(RFTConfig, None, [*_common(tmp_path), *over])

    def acc(problems, responses):
        return [r.endswith("<answer>!</answer>") for r in responses]

    summary = train_rft(cfg, model=model, tokenizer=tok, generator=FakeGenerator(_script), accuracy_fn=acc)
    assert summary["steps"] == 2 and summary["world_size"] == 1
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(torch.isfinite(torch.tensor(r["loss"])) for r in rows)
