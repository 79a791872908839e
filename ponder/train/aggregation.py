"""Registered loss aggregations: how per-token losses of a batch become one number.

Every entry is `fn(per_token, mask, counts) -> scalar` with per_token, mask (B, T) for one
micro-batch and `counts` (a `BatchCounts`) counted over the whole optimiser batch, so summing
the results of the micro-batches equals the full-batch value (gradient accumulation is exact).

- `token_mean`: sum_i sum_t l / sum_i |o_i| (DAPO's token-level loss, Yu et al. 2025, eq. 12).
- `seq_mean_token_mean`: 1/N sum_i 1/|o_i| sum_t l (GRPO, Shao et al. 2024, eq. 3).
- `seq_mean_token_sum_norm`: sum_i sum_t l / (N * max_tokens) (Dr. GRPO, Liu et al. 2025:
  a constant normaliser, so long responses are not favoured when wrong).
- `prompt_mean`: the mean over prompts of each prompt group's token mean, 1/P sum_p (sum over
  the group's tokens) / (tokens in the group): every prompt weighs the same, however long its
  responses.

A user adds one as `path/to/file.py:fn`. Left out: per-sequence length penalties.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ponder.registry import Registry

LOSS_AGGREGATIONS = Registry("loss aggregation")


@dataclass
class BatchCounts:
    n_seqs: int  # sequences with at least one loss token in the optimiser batch
    n_tokens: int  # loss tokens in the optimiser batch
    max_tokens: int  # the response length cap
    n_groups: int = 1  # prompt groups with at least one loss token
    group_tokens: torch.Tensor | None = None  # (B,) loss tokens of each row's prompt group


@LOSS_AGGREGATIONS.register("token_mean")
def token_mean(per_token: torch.Tensor, mask: torch.Tensor, counts: BatchCounts) -> torch.Tensor:
    """per_token, mask (B, T) -> scalar."""
    return (per_token * mask).sum() / max(counts.n_tokens, 1)


@LOSS_AGGREGATIONS.register("seq_mean_token_mean")
def seq_mean_token_mean(per_token: torch.Tensor, mask: torch.Tensor, counts: BatchCounts) -> torch.Tensor:
    """per_token, mask (B, T) -> scalar."""
    lengths = mask.sum(1).clamp(min=1)  # (B,)
    return ((per_token * mask).sum(1) / lengths).sum() / max(counts.n_seqs, 1)


@LOSS_AGGREGATIONS.register("seq_mean_token_sum_norm")
def seq_mean_token_sum_norm(per_token: torch.Tensor, mask: torch.Tensor, counts: BatchCounts) -> torch.Tensor:
    """per_token, mask (B, T) -> scalar."""
    return (per_token * mask).sum() / max(counts.n_seqs * counts.max_tokens, 1)


@LOSS_AGGREGATIONS.register("prompt_mean")
def prompt_mean(per_token: torch.Tensor, mask: torch.Tensor, counts: BatchCounts) -> torch.Tensor:
    """per_token, mask (B, T) -> scalar; needs counts.group_tokens (B,)."""
    if counts.group_tokens is None:
        raise ValueError("prompt_mean aggregation needs the token count of each row's prompt group")
    per_row = (per_token * mask).sum(1) / counts.group_tokens.clamp(min=1)  # (B,)
    return per_row.sum() / max(counts.n_groups, 1)


def aggregate(per_token: torch.Tensor, mask: torch.Tensor, *, mode: str, counts: BatchCounts) -> torch.Tensor:
    """per_token, mask (B, T) -> scalar by the registered aggregation `mode` (or a plug-in)."""
    return LOSS_AGGREGATIONS.get(mode)(per_token, mask, counts)
