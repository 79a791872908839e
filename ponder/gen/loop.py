"""The sampling loop shared by the hf decode paths: n samples per prompt from one prefill.

Drives a decoder (`fastllama.FastLlama` or `hfloop.HFLoop`: start / step / keep) for up to
max_new steps. Each step picks one token per live row, records it and its model logprob in
preallocated (rows, max_new) buffers, and marks rows that produced EOS or completed a stop
string; a decoder with `choose_and_record` (the compiled kernel) does the pick, the record, the
EOS marks and the live count in one call, leaving only stop-string candidates to Python. When at
most half the rows are still live, finished rows are dropped from the batch so they stop costing
compute; the others go on. Host syncs happen every `check_every` steps (1 on
CPU, where they are free, or when stop strings need the tokens); a row that ended between checks
keeps decoding and its extra tokens are cut off at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ponder.gen.rng import RowUniforms, row_keys
from ponder.gen.sampling import choose_tokens, distribution_stats
from ponder.gen.stops import StopChecker
from ponder.types import fresh_seeds


@dataclass
class Row:
    """One generated sequence: token ids, their model logprobs, and why it ended."""

    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str  # "stop" | "eos" | "length"
    entropies: list[float] | None = None
    certainties: list[float] | None = None


@dataclass
class LoopState:
    rows: torch.Tensor  # (B,) original row index of each live batch row
    ended: torch.Tensor  # (R,) EOS seen or stop string completed, by original row
    tokens: torch.Tensor  # (R, max_new) chosen ids, -1 where nothing was generated
    logprobs: torch.Tensor  # (R, max_new)
    stop_len: dict[int, int]  # original row -> length (tokens) at its stop string
    all_rows: bool = True  # rows is still arange(R)
    stats: torch.Tensor | None = None  # (R, max_new, 2) entropy, self-certainty; None: not asked
    rng: RowUniforms | None = None  # each original row's uniforms (gen/rng.py); None: greedy


def _record(state: LoopState, t: int, tok: torch.Tensor, lp: torch.Tensor, eos_table: torch.Tensor) -> None:
    if state.all_rows:  # no row dropped yet: plain column writes, cheaper than indexed ones
        state.tokens.select(1, t).copy_(tok)
        state.logprobs.select(1, t).copy_(lp)
        state.ended.logical_or_(eos_table[tok])
        return
    state.tokens[state.rows, t] = tok
    state.logprobs[state.rows, t] = lp
    state.ended[state.rows] = state.ended[state.rows] | eos_table[tok]


def _check_stops(state: LoopState, t: int, tok: torch.Tensor, stop: StopChecker, candidates=None) -> int:
    """Mark rows that completed a stop string at step t; candidates: the batch rows whose token can
    end one (None: found here). Returns how many rows ended."""
    if candidates is None:
        candidates = (stop.can_end[tok] & ~state.ended[state.rows]).nonzero().squeeze(1).tolist()
    ended = 0
    for j in candidates:
        r = int(state.rows[j])
        generated = state.tokens[r, max(0, t + 1 - stop.window) : t + 1].tolist()
        if stop.ends_here(generated):
            state.ended[r] = True
            state.stop_len[r] = t + 1
            ended += 1
    return ended


def _save_rows(state: LoopState, decoder, saver, batch_rows: list[int]) -> None:
    """Hand the K/V of batch rows that ended at a stop string to `saver` before they leave the cache."""
    for j in batch_rows:
        r = int(state.rows[j])
        if r in state.stop_len:
            saver.save(decoder, j, r, state.tokens[r, : state.stop_len[r]].tolist())


def _prune(
    state: LoopState, decoder, tok: torch.Tensor, saver=None, n_live: int | None = None
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Returns (None, tok) when no row is live, else the tokens of the rows kept in the batch.
    n_live: how many batch rows have not ended, when the caller knows (None: counted here)."""
    if n_live is None:
        n_live = int((~(state.ended if state.all_rows else state.ended[state.rows])).sum())
    if n_live == 0:
        return None, tok
    if n_live <= len(state.rows) // 2:
        live = ~state.ended[state.rows]
        keep = live.nonzero().squeeze(1)
        if saver is not None:
            _save_rows(state, decoder, saver, (~live).nonzero().squeeze(1).tolist())
        decoder.keep(keep)
        state.rows, tok, state.all_rows = state.rows[keep], tok[keep], False
    return state.rows, tok


def _finish(state: LoopState, steps: int, eos_ids: set[int]) -> list[Row]:
    out = []
    stats = state.stats[:, :steps].tolist() if state.stats is not None else None
    for r, (toks, lps) in enumerate(zip(state.tokens[:, :steps].tolist(), state.logprobs[:, :steps].tolist())):
        if r in state.stop_len:
            n, reason = state.stop_len[r], "stop"
        else:
            n = next((i + 1 for i, x in enumerate(toks) if x in eos_ids), None)
            n, reason = (n, "eos") if n is not None else (steps, "length")
        row = Row(token_ids=toks[:n], logprobs=lps[:n], finish_reason=reason)
        if stats is not None:
            row.entropies, row.certainties = [s[0] for s in stats[r][:n]], [s[1] for s in stats[r][:n]]
        out.append(row)
    return out


def sample_rows(
    decoder,
    ids: torch.Tensor,
    mask: torch.Tensor,
    *,
    copies: int,
    max_new: int,
    temperature: float,
    top_k: int,
    top_p: float,
    eos_ids: set[int],
    eos_table: torch.Tensor,
    stop: StopChecker | None,
    keys: torch.Tensor | None,
    check_every: int = 1,
    token_stats: bool = False,
    saver=None,
) -> list[Row]:
    """Sample `copies` continuations of each left-padded prompt ids/mask (P, T): P * copies Rows,
    the copies of prompt i at rows i * copies ... (i + 1) * copies - 1. eos_table: (V,) bool.
    keys: (P * copies,) int64, each row's random key (gen/rng.py; None: keys from fresh entropy).
    token_stats: also record each step's distribution entropy and self-certainty (one more
    pass over the (B, V) logits per step). saver (a prefix_cache.RowSaver, with stop strings):
    rows that end at a stop string leave their prompt + generated K/V in a prefix cache."""
    R, device = ids.shape[0] * copies, ids.device
    logits = decoder.start(ids, mask, copies, max_new)
    state = LoopState(
        rows=torch.arange(R, device=device),
        ended=torch.zeros(R, dtype=torch.bool, device=device),
        tokens=torch.full((R, max_new), -1, dtype=torch.long, device=device),
        logprobs=torch.zeros(R, max_new, device=device),
        stop_len={},
        stats=torch.zeros(R, max_new, 2, device=device) if token_stats else None,
    )
    if temperature > 0:  # unkeyed rows get keys from fresh entropy
        keys = keys if keys is not None else row_keys(fresh_seeds(ids.shape[0]), copies, device)
        state.rng = RowUniforms(keys)
    steps = 0
    choose = getattr(decoder, "choose_tokens", choose_tokens)  # a decoder may pick tokens its own way
    fused = getattr(decoder, "choose_and_record", None)  # ... and record them in the same call
    params = dict(temperature=temperature, top_k=top_k, top_p=top_p, rng=state.rng)
    can_end = stop.can_end if stop is not None else None
    for t in range(max_new):
        picked = None if fused is None else fused(logits, state, t, eos_table, can_end, **params)
        if picked is None:
            tok, lp = choose(logits, step=t, rows=None if state.all_rows else state.rows, **params)
            _record(state, t, tok, lp, eos_table)
            n_live, candidates = None, None
        else:
            tok, n_live, candidates = picked
        if state.stats is not None:
            state.stats[state.rows, t] = torch.stack(distribution_stats(logits), dim=-1)
        steps = t + 1
        if stop is not None:
            ended = _check_stops(state, t, tok, stop, candidates)
            n_live = None if n_live is None else n_live - ended
        if steps == max_new:
            break
        if stop is not None or steps % check_every == 0:
            rows, tok = _prune(state, decoder, tok, saver, n_live)
            if rows is None:
                break
        logits = decoder.step(tok)
    if saver is not None and stop is not None:
        _save_rows(state, decoder, saver, list(range(len(state.rows))))
    return _finish(state, steps, eos_ids)
