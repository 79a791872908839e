"""Shared helpers for the train tests: a very small random tiny-reasoner, a scripted response
writer for FakeGenerator, and rule rewards written as plain callables."""

from __future__ import annotations

from ponder.config import load_config
from ponder.models.tiny.build import build_model
from ponder.steps import parse_response
from ponder.train.grpo import GRPOConfig


def small_model(seed: int = 0):
    return build_model(
        seed=seed,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
    )


def answer_is_one(prompts, completions, **columns):
    """A reward under TRL's contract: 1.0 when the answer is "1"."""
    return [1.0 if parse_response(r).answer == "1" else 0.0 for r in completions]


def accuracy_is_one(problems, responses):
    """An accuracy_fn for train_grpo: correct when answer_is_one rewards the response."""
    return [r == 1.0 for r in answer_is_one(prompts=[p.question for p in problems], completions=responses)]


def grpo_config(out, *, steps: int = 3, **over):
    """A small GRPO config on arithmetic (2 prompts x 4 samples, 48 tokens, no checkpoints)
    writing to `out`; `over` are dotted keys laid on top."""
    base = [
        f"run.out={out}",
        f"run.steps={steps}",
        "run.progress=false",
        "run.save_every=0",
        "data.task=arithmetic",
        "data.n=16",
        "rollout.prompts_per_step=2",
        "rollout.group_size=4",
        "rollout.max_tokens=48",
        "optim.lr=1e-3",
    ]
    return load_config(GRPOConfig, None, base + [f"{k}={v}" for k, v in over.items()])


def contains_seven(prompts, completions, **columns):
    """A dense toy reward for live sampling from a random model."""
    return [min(r.count("7"), 3) / 3 for r in completions]


def script_half_right(prompt: str, i: int) -> str:
    return f"<think>{i}+0={i}</think>\n<answer>{1 if i % 2 else 2}</answer>"
