"""Turning (prompt, response) text into model inputs, and per-token log-probs out of a model.

A training example is `Seq(ids, start)`: the prompt's and the response's token ids concatenated,
with the loss on positions `start:` only (the response). `collate` right-pads a list of Seqs
(right padding keeps position ids 0..n-1 without passing them); `pack` puts several short Seqs
in one row with a block-diagonal causal mask and restarting position ids, which gives exactly
the logits each example would get alone. `forward_logprobs` runs the model and returns the
log-probs of the targets aligned with the loss mask.

Responses are re-tokenised from text (exact for the tiny reasoner's character tokenizer; for a
BPE model the ids can differ from the sampled ones at rare boundaries). Left out: truncation
policies beyond dropping what does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ponder.train.losses import token_entropy, token_logprobs
from ponder.types import PonderError


@dataclass
class Seq:
    ids: list[int]
    start: int  # first response position (loss on ids[start:])
    weights: list[float] | None = None  # per-position loss weight (len(ids)); None: all 1


def _weigh(lmask_row: torch.Tensor, s: Seq, off: int) -> None:
    """Multiply a row's loss mask by the Seq's weights (target ids[t+1] sits at mask t)."""
    if s.weights is not None:
        n = len(s.ids)
        lmask_row[off : off + n - 1] *= torch.tensor(s.weights[1:], dtype=lmask_row.dtype)


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, L)
    attention_mask: torch.Tensor  # (B, L) 0/1, or (B, 1, L, L) additive for packed rows
    targets: torch.Tensor  # (B, L-1) next tokens
    loss_mask: torch.Tensor  # (B, L-1) float: 1 on response targets
    position_ids: torch.Tensor | None = None  # (B, L), packed rows only

    def to(self, device: str | torch.device) -> Batch:
        """The same batch with every tensor on `device` (the model's)."""
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return Batch(*(move(t) for t in (self.input_ids, self.attention_mask, self.targets, self.loss_mask)),
                     position_ids=move(self.position_ids))  # fmt: skip


def encode_example(tokenizer, prompt: str, response: str, *, eos: bool) -> Seq:
    """Token ids of prompt + response (+ eos), loss from the first response token."""
    p = tokenizer.encode(prompt, add_special_tokens=False)
    r = tokenizer.encode(response, add_special_tokens=False)
    if eos:
        r = r + [tokenizer.eos_token_id]
    return Seq(ids=p + r, start=len(p))


def encode_segments(tokenizer, prompt: str, segments: list[tuple[str, bool]], *, eos: bool) -> Seq:
    """Like encode_example for a response given as (text, trained) pieces: untrained pieces (a
    reflection trace's slipped step, see steps.slip_segments) get loss weight 0. Exact for
    tokenizers that never merge across the piece boundaries (the tiny reasoner's characters)."""
    ids = tokenizer.encode(prompt, add_special_tokens=False)
    start = len(ids)
    weights = [1.0] * start
    for text, trained in segments:
        piece = tokenizer.encode(text, add_special_tokens=False)
        ids += piece
        weights += [1.0 if trained else 0.0] * len(piece)
    if eos:
        ids.append(tokenizer.eos_token_id)
        weights.append(1.0)
    return Seq(ids=ids, start=start, weights=weights)


def collate(seqs: list[Seq], pad_id: int) -> Batch:
    """Right-pad sequences into one batch; loss mask covers response targets only."""
    if not seqs:
        raise PonderError("cannot build a training batch from zero sequences")
    L = max(len(s.ids) for s in seqs)
    ids = torch.full((len(seqs), L), pad_id, dtype=torch.long)
    attn = torch.zeros((len(seqs), L), dtype=torch.long)
    lmask = torch.zeros((len(seqs), L - 1), dtype=torch.float32)
    for i, s in enumerate(seqs):
        ids[i, : len(s.ids)] = torch.tensor(s.ids)
        attn[i, : len(s.ids)] = 1
        lmask[i, max(s.start - 1, 0) : len(s.ids) - 1] = 1.0  # target t+1 predicted at t
        _weigh(lmask[i], s, 0)
    return Batch(input_ids=ids, attention_mask=attn, targets=ids[:, 1:], loss_mask=lmask)


def pack_rows(lengths: list[int], max_len: int) -> list[list[int]]:
    """First-fit-decreasing bin packing of sequence indices into rows of at most max_len tokens."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    rows: list[list[int]] = []
    room: list[int] = []
    for i in order:
        if lengths[i] > max_len:
            raise PonderError(f"an example of {lengths[i]} tokens exceeds max_len={max_len}; raise max_len")
        for r, free in enumerate(room):
            if lengths[i] <= free:
                rows[r].append(i)
                room[r] -= lengths[i]
                break
        else:
            rows.append([i])
            room.append(max_len - lengths[i])
    return rows


def pack(seqs: list[Seq], pad_id: int, max_len: int) -> Batch:
    """Several Seqs per row; a block-diagonal causal mask keeps examples from seeing each other."""
    rows = pack_rows([len(s.ids) for s in seqs], max_len)
    L = max(sum(len(seqs[i].ids) for i in row) for row in rows)
    ids = torch.full((len(rows), L), pad_id, dtype=torch.long)
    pos = torch.zeros((len(rows), L), dtype=torch.long)
    allowed = torch.zeros((len(rows), L, L), dtype=torch.bool)
    lmask = torch.zeros((len(rows), L - 1), dtype=torch.float32)
    for r, row in enumerate(rows):
        off = 0
        for i in row:
            s, n = seqs[i], len(seqs[i].ids)
            ids[r, off : off + n] = torch.tensor(s.ids)
            pos[r, off : off + n] = torch.arange(n)
            allowed[r, off : off + n, off : off + n] = torch.tril(torch.ones(n, n, dtype=torch.bool))
            lmask[r, off + max(s.start - 1, 0) : off + n - 1] = 1.0
            _weigh(lmask[r], s, off)
            off += n
        allowed[r, off:, off:] = torch.eye(L - off, dtype=torch.bool)  # padding attends to itself
    additive = torch.zeros(allowed.shape).masked_fill(~allowed, torch.finfo(torch.float32).min)
    return Batch(ids, additive.unsqueeze(1), ids[:, 1:], lmask, position_ids=pos)


def forward_logprobs(
    model, batch: Batch, *, entropy: bool = False, entropy_grad: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """-> (log p(targets) (B, L-1), entropy (B, L-1) or None). Gradients flow unless under
    no_grad; through the entropy only with entropy_grad (an entropy bonus)."""
    kwargs = {"attention_mask": batch.attention_mask}
    if batch.position_ids is not None:
        kwargs["position_ids"] = batch.position_ids
    logits = model(input_ids=batch.input_ids, **kwargs).logits[:, :-1]  # (B, L-1, V)
    logp = token_logprobs(logits, batch.targets)
    ent = None
    if entropy:
        with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
            ent = token_entropy(logits)
    return logp, ent


def sequence_logprob(logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, L-1) token log-probs and mask -> (B,) summed log-prob of each response."""
    return (logp * mask).sum(1)
