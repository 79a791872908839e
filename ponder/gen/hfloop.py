"""The generic decode path: any transformers causal LM, stepped through its own forward and cache.

Same interface as `fastllama.FastLlama` (start / step / keep), so the sampling loop does not know
which one runs. Slower (the whole module stack every step) but works for every architecture
transformers supports. Left padding: an explicit attention mask and position ids
(cumulative count of real tokens) are passed on every call.

The cache travels as `cache` where the model's forward takes it (transformers 5.x, which
announces the removal of `past_key_values` for 5.40) and as `past_key_values` before that; the
output field has the same name as the argument.
"""

from __future__ import annotations

import inspect

import torch


def cache_argument(model) -> str:
    """The name under which this model's forward takes and returns its KV cache."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


class HFLoop:
    def __init__(self, model):
        self.model = model
        self.cache_arg = cache_argument(model)

    def start(self, ids: torch.Tensor, mask: torch.Tensor, copies: int, max_new: int) -> torch.Tensor:
        """Encode prompts (P, T) once; give each `copies` cache rows; return logits (P * copies, V)."""
        pos = (mask.long().cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=ids, attention_mask=mask.long(), position_ids=pos, use_cache=True)
        self.cache = out[self.cache_arg]
        if copies > 1:
            self.cache.batch_repeat_interleave(copies)
        self.mask = mask.long().repeat_interleave(copies, dim=0)  # (R, T) grows by one column a step
        self.pos = (pos[:, -1] + 1).repeat_interleave(copies)
        return out.logits[:, -1].repeat_interleave(copies, dim=0)

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        self.mask = torch.cat([self.mask, self.mask.new_ones(len(tokens), 1)], dim=1)
        out = self.model(
            input_ids=tokens[:, None],
            attention_mask=self.mask,
            position_ids=self.pos[:, None],
            use_cache=True,
            **{self.cache_arg: self.cache},
        )
        self.cache, self.pos = out[self.cache_arg], self.pos + 1
        return out.logits[:, -1]

    def keep(self, rows: torch.Tensor) -> None:
        self.cache.batch_select_indices(rows)
        self.mask, self.pos = self.mask.index_select(0, rows), self.pos.index_select(0, rows)
