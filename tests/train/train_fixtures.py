"""Shared helpers for the train tests: a very small random tiny-reasoner, a generator that samples
from the live weights with transformers' generate (so rollouts change as training does), and
rule rewards written as plain callables."""

from __future__ import annotations

import torch

from ponder.models.tiny.build import build_model
from ponder.steps import parse_response
from ponder.train.common import render_prompt
from ponder.types import Completion, SamplingParams


def small_model(seed: int = 0):
    return build_model(
        seed=seed,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
    )


class LiveGen:
    """Samples from the model being trained (a stand-in for gen.hf.HFGenerator in tests)."""

    name = "live"

    def __init__(self, model, tok):
        self.model, self.tok, self.n_params = model, tok, sum(p.numel() for p in model.parameters())

    def render(self, question: str) -> str:
        return render_prompt(self.tok, question)

    @torch.no_grad()
    def generate(self, prompts, params: SamplingParams):
        torch.manual_seed(params.seed or 0)
        out = []
        for prompt in prompts:
            ids = torch.tensor([self.tok.encode(prompt, add_special_tokens=False)])
            gen = self.model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                do_sample=params.temperature > 0,
                temperature=params.temperature or None,
                max_new_tokens=params.max_tokens,
                num_return_sequences=params.n,
                pad_token_id=self.tok.pad_token_id,
                top_k=None,
                top_p=None,
            )
            group = []
            for row in gen[:, ids.shape[1] :].tolist():
                eos = self.tok.eos_token_id in row
                toks = row[: row.index(self.tok.eos_token_id)] if eos else row
                group.append(
                    Completion(
                        text=self.tok.decode(toks),
                        token_ids=toks,
                        finish_reason="eos" if eos else "length",
                        prompt_tokens=ids.shape[1],
                    )
                )
            out.append(group)
        return out


def answer_is_one(problems, responses):
    return [1.0 if parse_response(r).answer == "1" else 0.0 for r in responses]


def contains_seven(problems, responses):
    """A dense toy reward for live sampling from a random model."""
    return [min(r.count("7"), 3) / 3 for r in responses]


def script_half_right(prompt: str, i: int) -> str:
    return f"<think>{i}+0={i}</think>\n<answer>{1 if i % 2 else 2}</answer>"
