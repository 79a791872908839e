"""TRL interop both ways: a ponder reward inside TRL's GRPOTrainer (one real training step) and a
TRL-style reward inside ponder's GRPO; a wrong signature is one clear error."""

from __future__ import annotations

import json

import pytest

from ponder.integrations.trl import from_trl, problems_dataset, to_trl
from ponder.tasks import make_problems
from ponder.types import PonderError, Problem
from ponder.verify.rewards import get_reward

GOOD = "<think>2+3=5</think>\n<answer>5</answer>"
ARITH = Problem(id="a", task="arithmetic", question="2+3=?", answer="5", meta={"level": 1})


def test_ponder_reward_called_as_trl_calls_it():
    pytest.importorskip("datasets")
    ds = problems_dataset([ARITH, ARITH], prompt=lambda p: [{"role": "user", "content": p.question}])
    columns = {k: list(ds[k]) for k in ds.column_names if k != "prompt"}
    chat = [[{"role": "assistant", "content": GOOD}], [{"role": "assistant", "content": "<answer>6</answer>"}]]
    trl_kwargs = {"completion_ids": [[1], [2]], "trainer_state": object(), "log_extra": print, "log_metric": print}
    fn = to_trl("accuracy=1;gate=format")
    assert fn(prompts=ds["prompt"], completions=chat, **columns, **trl_kwargs) == [1.0, 0.0]
    assert fn.__name__ == "accuracy_1_gate_format"
    assert json.loads(columns["meta"][0]) == {"level": 1}


def test_trl_style_reward_in_ponder_grpo(tmp_path):
    from ponder.config import load_config
    from ponder.gen.fake import FakeGenerator
    from ponder.models.tiny.build import build_model
    from ponder.train.grpo import GRPOConfig, train_grpo

    seen = {}

    def trl_reward(completions, answer, **kwargs):  # the shape of TRL's documented examples
        seen.update(kwargs)
        return [1.0 if f"<answer>{a}</answer>" in c else 0.0 for c, a in zip(completions, answer)]

    model, tok = build_model(num_hidden_layers=1)
    cfg = load_config(GRPOConfig, None, [f"run.out={tmp_path}", "run.steps=1", "run.progress=false",
                                         "data.task=arithmetic", "data.n=4", "rollout.prompts_per_step=2",
                                         "rollout.group_size=2", "rollout.max_tokens=32"])  # fmt: skip
    script = lambda prompt, i: "<think>x</think>\n<answer>5</answer>" if i % 2 else "<answer>?</answer>"  # noqa: E731
    out = train_grpo(cfg, model=model, tokenizer=tok, generator=FakeGenerator(script), reward_fn=from_trl(trl_reward))
    assert out["steps"] == 1 and {"prompts", "problem_id", "task", "question", "meta", "info"} <= set(seen)


def test_wrong_signature_is_one_clear_error():
    def legacy(problems, responses):
        return [0.0] * len(responses)

    with pytest.raises(PonderError, match=r"legacy.*ponder calls rewards like TRL does"):
        from_trl(legacy)
    with pytest.raises(PonderError, match="not callable"):
        from_trl("accuracy")


@pytest.mark.filterwarnings("ignore")
def test_ponder_reward_drops_into_trl_grpotrainer(tmp_path):
    pytest.importorskip("trl")
    import torch
    from trl import GRPOConfig, GRPOTrainer

    from ponder.models.tiny.build import build_model

    torch.manual_seed(0)
    model, tok = build_model(num_hidden_layers=1)
    before = [p.detach().clone() for p in model.parameters()]
    problems = make_problems("arithmetic", 4, seed=0, level=1)
    args = GRPOConfig(output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=4, num_generations=2,
                      max_completion_length=24, learning_rate=1e-2, beta=0.0, logging_steps=1, save_strategy="no",
                      report_to=[], use_cpu=True, bf16=False, disable_tqdm=True, dataloader_num_workers=0,
                      seed=0)  # fmt: skip
    # accuracy is 0 for a random model; cosine_length varies with length, so the step has a gradient
    rewards = [to_trl("accuracy"), to_trl(get_reward("cosine_length", max_len=32), name="cosine_length")]
    trainer = GRPOTrainer(model=model, reward_funcs=rewards, args=args, train_dataset=problems_dataset(problems),
                          processing_class=tok)  # fmt: skip
    trainer.train()
    logged = {k for row in trainer.state.log_history for k in row}
    assert {"rewards/accuracy/mean", "rewards/cosine_length/mean"} <= logged
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
