"""Shared helpers for the train tests: a very small random tiny-reasoner, a scripted response
writer for FakeGenerator, and rule rewards written as plain callables."""

from __future__ import annotations

from ponder.models.tiny.build import build_model
from ponder.steps import parse_response


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


def contains_seven(prompts, completions, **columns):
    """A dense toy reward for live sampling from a random model."""
    return [min(r.count("7"), 3) / 3 for r in completions]


def script_half_right(prompt: str, i: int) -> str:
    return f"<think>{i}+0={i}</think>\n<answer>{1 if i % 2 else 2}</answer>"
