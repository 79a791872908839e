"""Process supervision for GRPO (DeepSeekMath, Shao et al. 2024, sec. 4.1.3): a learned PRM
scores every step of every sampled response; the step rewards are normalised over the whole group
(mean and std of all steps of all G samples), and a token's advantage is the sum of the
normalised rewards of the steps that end at or after it. GRPO turns it on with the switch
`algo.process_coef` (presets.py): each token's advantage is the outcome advantage plus
process_coef x its process advantage, so `--algo.advantage=zero --algo.process_coef=1` is the
paper's pure process supervision and a smaller coefficient mixes the two.

The PRM reaches the trainer as verify's registered `prm` reward (rm/reward.py), which also
returns each response's steps and their scores (`step_scores`); steps are mapped to token
positions through the tokenizer's character offsets.

Left out: process rewards for responses the tokenizer cannot give offsets for (a slow tokenizer
is an error), PRM scores of responses shared between steps (each step is scored afresh).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch

from ponder.types import PonderError, Problem


class StepScores(Protocol):
    """A process reward: each completion's steps (joined, they are the completion) and their scores."""

    def step_scores(
        self, prompts: list[Any], completions: list[Any], **columns: Any
    ) -> list[tuple[list[str], list[float]]]: ...


def step_token_ends(steps: list[str], char_to_token: Callable[[int], int]) -> list[int]:
    """Token index of each step's last character in the response; `char_to_token` maps a
    character offset of the response to its token (for a char-level tokenizer, the identity)."""
    ends, pos = [], 0
    for s in steps:
        pos += len(s)
        ends.append(char_to_token(pos - 1))
    return ends


def process_advantages(
    step_rewards: list[list[float]], step_ends: list[list[int]], lengths: list[int], eps: float = 1e-6
) -> torch.Tensor:
    """Per-token advantages of one group (G samples) from step rewards; (G, T_max), zero-padded.

    r~ = (r - mean(all r)) / (std(all r) + eps) over every step of every sample (DeepSeekMath eq. in
    4.1.3); A[g, t] = sum of r~[g, j] over steps j with end_j >= t.
    """
    if len(step_rewards) != len(step_ends) or len(step_ends) != len(lengths):
        raise PonderError("process_advantages needs one step-reward list, step-end list and length per sample")
    for g, (r, e) in enumerate(zip(step_rewards, step_ends)):
        if len(r) != len(e):
            raise PonderError(f"sample {g} has {len(r)} step rewards but {len(e)} step ends")
    flat = torch.tensor([x for r in step_rewards for x in r], dtype=torch.float32)  # (N,)
    std = flat.std() if flat.numel() > 1 else torch.tensor(0.0)
    norm = (flat - flat.mean()) / (std + eps)  # (N,)
    adv = torch.zeros(len(lengths), max(lengths, default=0))  # (G, T)
    i = 0
    for g, ends in enumerate(step_ends):
        for end in ends:
            adv[g, : min(end, lengths[g] - 1) + 1] += norm[i]
            i += 1
    return adv


def char_to_token(tokenizer, text: str) -> Callable[[int], int]:
    """Character offset of `text` -> index of the token holding it, as `tokenizer.encode(text)`
    splits it (the offsets of a fast tokenizer)."""
    if not getattr(tokenizer, "is_fast", True):
        raise PonderError("process advantages need a fast tokenizer (character offsets of each token)")
    ends = [e for _, e in tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]]
    last = max(len(ends) - 1, 0)
    return lambda c: min(bisect_right(ends, max(c, 0)), last)


def batch_process_advantages(
    prm: StepScores, tokenizer, problems: Sequence[Problem], texts: Sequence[str], lengths: Sequence[int],
    sizes: Sequence[int],
) -> torch.Tensor:  # fmt: skip
    """Process advantages of a batch in problem-major order (groups of `sizes[p]` responses)
    -> (N, R) with R the longest response in tokens (`lengths`: each response's token count, eos
    included); each group is normalised on its own. A response the PRM could not score (no
    scores) gets no process advantage."""
    from ponder.verify.rewards.contract import reward_columns

    scored = prm.step_scores([p.question for p in problems], list(texts), **reward_columns(problems))
    out = torch.zeros(len(texts), max(lengths, default=0))  # (N, R)
    start = 0
    for size in sizes:
        idx = range(start, start + size)
        ends = [step_token_ends(scored[i][0], char_to_token(tokenizer, texts[i])) if scored[i][1] else [] for i in idx]
        adv = process_advantages([scored[i][1] for i in idx], ends, [lengths[i] for i in idx])  # (G, T)
        out[start : start + size, : adv.shape[1]] = adv
        start += size
    return out


def with_process(adv: torch.Tensor, prm: StepScores, tokenizer, groups, seqs: list, *, coef: float) -> torch.Tensor:
    """Outcome advantages (N,) -> (N, R): each response token's outcome advantage plus coef x its
    process advantage. `groups`: the rollouts' gen.groups.Groups (problem-major); `seqs`: their
    train.batch.Seq encodings (the response starts at seq.start)."""
    lengths = [len(s.ids) - s.start for s in seqs]
    texts = [c.text for c in groups.flat]
    sizes = [len(g) for g in groups.outputs]
    proc = batch_process_advantages(prm, tokenizer, groups.flat_owners, texts, lengths, sizes)  # (N, R)
    return adv.unsqueeze(1) + coef * proc
