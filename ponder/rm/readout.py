"""Where a PRM's step score is read: its linear head at the step's delimiter (`head`, the
default), or its own language model at the step's result tokens (`result_lm`).

`result_lm` scores a step by the probability the reward model's backbone gives to the digits it
reads after each `=` of the step (the results it checks), each digit given everything before it:
score = exp(sum of those digits' next-token log-probabilities), returned as the logit whose
sigmoid is that probability, so every aggregation and scorer works unchanged. It needs a
backbone trained to write right traces (`lm_weight` > 0 in rm/train.py; with
`view: reversed_digits` each digit follows the digits it depends on). It is a readout of a
learned verifier, not of the policy: with a verifier trained from scratch on synthetic traces its
probabilities are not the policy's. Measured on arithmetic-4 (notes/issue-16.md, session 6): the
delimiter head of such a verifier ranked a problem's samples at chance while this readout of the
same weights did not.

A step without a result (the `<answer>` step) scores 1. Left out: results written without `=`
(a Countdown verdict's comparison reads its `vs` operand the same way only if it follows `=`).
"""

from __future__ import annotations

import torch

READOUTS = ("head", "result_lm")


def check_readout(name: str) -> None:
    if name not in READOUTS:
        from ponder.types import PonderError

        raise PonderError(f"reward-model readout must be one of {', '.join(READOUTS)}, got {name!r}")


def result_positions(tokens: list[str], start: int) -> list[int]:
    """Indices (>= start) of the digit tokens of every number that directly follows `=`."""
    out, inside = [], False
    for i in range(start, len(tokens)):
        t = tokens[i].strip()
        if t == "=":
            inside = True
        elif inside and t.isdigit():
            out.append(i)
        else:
            inside = False
    return out


def result_lm_logits(backbone, tokenizer, hidden: torch.Tensor, ids: torch.Tensor, batch: list) -> list[torch.Tensor]:
    """Per trace, (S_b,) logits: logit(exp(sum of the step's result digits' log-probs)).
    hidden (B, T, H), ids (B, T); `batch` holds Encoded traces (input_ids, boundaries, prompt_tokens)."""
    logp = torch.log_softmax(backbone.get_output_embeddings()(hidden[:, :-1]).float(), -1)  # (B, T-1, V)
    out = []
    for b, e in enumerate(batch):
        tokens = tokenizer.convert_ids_to_tokens(e.input_ids)
        sums = torch.zeros(len(e.boundaries), device=hidden.device)
        bounds = torch.tensor(e.boundaries)
        for p in result_positions(tokens, max(e.prompt_tokens, 1)):
            step = int(torch.searchsorted(bounds, p))  # the first step whose boundary is at or after p
            if step < len(e.boundaries):
                sums[step] = sums[step] + logp[b, p - 1, ids[b, p]]
        s = sums.clamp(max=-1e-6)  # log p < 0
        out.append(s - torch.log(-torch.expm1(s)))  # logit(exp(s))
    return out
