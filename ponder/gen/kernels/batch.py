"""One batch of rows in the compiled kernels (decode.cpp): its block tables, its plans, and the calls.

The cache is paged (gen/kernels/blocks.py: blocks of 16 positions in a pool kept across calls).
Every prompt has its blocks (prompt table), written once by the prefill; a prompt whose prefix is
a prefix-cache entry made of this pool's blocks starts with that entry's full blocks, held, not
copied (its partly filled last block is copied). Each row (row table) points at its prompt's full
blocks and owns the rest: a copy of the prompt's partly filled last block, then the blocks its
generated tokens go to. Rows have no padding: a row's column is its rotary position, and attention
reads exactly its own positions; dropping rows (`keep`) drops table rows. Shared blocks are never
written, so the prompt's blocks can go into the prefix cache as they are (`prompt_entries`), and so
can a finished row's (`row_entry`). A call's life: `allocate` (tables, blocks, reused prefixes),
`prefill`, one `step` per token with `choose_record` picking the tokens and doing the sampling
loop's bookkeeping in one call, then `release` of the blocks the call held. Left out: anything
but fp32 on CPU (plan.unsupported_reason).
"""

from __future__ import annotations

import ctypes

import torch

from ponder.gen.kernels.blocks import BLOCK, BlockPool
from ponder.gen.kernels.build import threads as kernel_threads
from ponder.gen.kernels.plan import KernelWeights, Layer, Plan, ptr
from ponder.gen.prefix_cache import BlockEntry

PREFILL_CHUNK = 256  # prompt tokens per pass through the layers (whole prompts; a longer one alone)

KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: K (Hkv, n, D), V (Hkv, n, D)


def row_tables(prompt_table: torch.Tensor, lengths: torch.Tensor, copies: int, own: torch.Tensor, max_new: int):
    """The block table (R, nb) of `copies` rows per prompt: prompt p's full blocks (prompt_table
    (P, *), lengths (P,) tokens), then each row's own blocks, taken in order from `own` (all rows'
    own blocks, row by row). Entries past a row's last block repeat block 0 (never read)."""
    prompt = torch.arange(lengths.shape[0] * copies) // copies
    full = (lengths // BLOCK)[prompt][:, None]  # (R, 1) shared blocks per row
    n_row = ((lengths[prompt] + max_new + BLOCK - 1) // BLOCK)[:, None]  # (R, 1) blocks a row needs
    n_own = n_row - full
    base = n_own.cumsum(0) - n_own
    b = torch.arange(int(n_row.max()))[None, :]
    shared = prompt_table[prompt].gather(1, b.clamp(max=prompt_table.shape[1] - 1).expand(len(prompt), -1))
    mine = own[(base + b - full).clamp(0, max(own.shape[0] - 1, 0))] if own.numel() else torch.zeros_like(shared)
    table = torch.where(b < full, shared, mine)
    return table.masked_fill_(b >= n_row, 0).contiguous()


def own_blocks(lengths: torch.Tensor, copies: int, max_new: int) -> int:
    """How many blocks the rows of `copies` rows per prompt own in all (see row_tables)."""
    return int((((lengths + max_new + BLOCK - 1) // BLOCK - lengths // BLOCK) * copies).sum())


class KernelBatch:
    """Rows decoding through the compiled step. dims: n_layers, d, H, Hkv, D, I; cos/sin: (cap,
    D / 2) RoPE tables as transformers computes them, cap >= the longest row's prompt + max_new;
    pool: the BlockPool the cache lives in."""

    def __init__(self, lib, weights: KernelWeights, dims: dict, eps: float, cos, sin, pool: BlockPool):
        self.lib, self.weights, self.dims, self.eps = lib, weights, dims, eps
        self.cos, self.sin, self.pool = cos.contiguous(), sin.contiguous(), pool
        self.held: list[torch.Tensor] = []  # block ids this call holds, let go by release()

    def allocate(self, lengths: torch.Tensor, copies: int, max_new: int, found: list) -> None:
        """Tables and blocks for prompts of `lengths` (P,) tokens with `copies` rows each and room for
        max_new more tokens per row. found: per prompt (n, prefix-cache entry of its first n tokens)
        or (0, None), or [] for none: an entry of this pool's blocks lends its full blocks, any
        other is copied in. Leaves the plan on the prompt table (for the prefill)."""
        self.lib.ponder_set_threads(kernel_threads())  # pool.h's threads for this call
        self.copies, self.lengths = copies, lengths
        self.prompt_len = lengths.repeat_interleave(copies)  # (R,) each row's prompt columns
        found = found or [(0, None)] * lengths.shape[0]
        lend = [n // BLOCK if isinstance(e, BlockEntry) and e.pool is self.pool else 0 for n, e in found]
        n_prompt = (lengths + BLOCK - 1) // BLOCK
        fresh = self.pool.alloc(int(n_prompt.sum()) - sum(lend) + own_blocks(lengths, copies, max_new))
        self.held.append(fresh)
        lent = [e.blocks[:k] for k, (_, e) in zip(lend, found) if k]
        if lent:
            lent = torch.cat(lent)
            self.pool.retain(lent)
            self.held.append(lent)
        rows, at, new = [], 0, fresh.tolist()
        for k, (_, e), nb in zip(lend, found, n_prompt.tolist()):
            rows.append((e.blocks[:k].tolist() if k else []) + new[at : at + nb - k])
            at += nb - k
        width = max(len(r) for r in rows)
        self.prompt_table = torch.tensor([r + [0] * (width - len(r)) for r in rows], dtype=torch.int64)
        self.table = row_tables(self.prompt_table, lengths, copies, fresh[at:], max_new)
        self._make_plan(self.prompt_table)
        self._put_prefixes(found, lend)

    def _put_prefixes(self, found: list, lend: list[int]) -> None:
        """Reused prefixes into the prompts' blocks: the partly filled last block of a lent entry is
        copied, any other entry's K/V written (once per prompt)."""
        src = [e.blocks[k] for k, (n, e) in zip(lend, found) if k and n % BLOCK]
        dst = [self.prompt_table[p, k] for p, (k, (n, _)) in enumerate(zip(lend, found)) if k and n % BLOCK]
        if src:
            self._copy_blocks(torch.stack(src), torch.stack(dst))
        used = [(p, n, e.kv()) for p, (k, (n, e)) in enumerate(zip(lend, found)) if n and not k]
        if not used:
            return
        rows = torch.cat([torch.full((n,), p) for p, n, _ in used])
        cols = torch.cat([torch.arange(n) for _, n, _ in used])
        for i in range(self.dims["n_layers"]):
            k = torch.cat([kv[i][0] for _, _, kv in used], dim=1).contiguous()  # (Hkv, N, D)
            v = torch.cat([kv[i][1] for _, _, kv in used], dim=1).contiguous()
            self.lib.ponder_write_kv(
                self.plan_ptr, i, rows.shape[0], rows.data_ptr(), cols.data_ptr(), k.data_ptr(), v.data_ptr(),
                k.shape[1],
            )  # fmt: skip

    def _copy_blocks(self, src: torch.Tensor, dst: torch.Tensor) -> None:
        src, dst = src.contiguous(), dst.contiguous()
        self.lib.ponder_copy_blocks(self.plan_ptr, dst.numel(), src.data_ptr(), dst.data_ptr())

    def prefill(self, ids: torch.Tensor, mask: torch.Tensor, reused: torch.Tensor) -> torch.Tensor:
        """Left-padded prompts ids/mask (P, T) whose first reused[p] tokens are in the cache already:
        the rest of each prompt's tokens through the kernel into the prompt's blocks, then each
        prompt's partly filled last block copied to its rows. Returns each prompt's next-token
        logits (P, V); leaves the plan on the rows."""
        P = ids.shape[0]
        col = mask.long().cumsum(1) - 1
        new = mask & (col >= reused[:, None])  # row-major: prompt by prompt, columns increasing
        p, s = new.nonzero().unbind(1)
        tokens, cols = ids[p, s].long().contiguous(), col[p, s].contiguous()
        counts = new.sum(1)
        ends = counts.cumsum(0)
        work = torch.empty(self.lib.ponder_work_floats(self.plan_ptr, max(PREFILL_CHUNK, int(counts.max()))))
        logits = torch.empty(P, self.weights.vocab)
        args = [ends, tokens, p.contiguous(), cols]
        self.lib.ponder_prefill(
            self.plan_ptr, P, *[t.data_ptr() for t in args], PREFILL_CHUNK, work.data_ptr(), logits.data_ptr()
        )
        part = (self.prompt_len % BLOCK).nonzero().squeeze(1)  # rows after a partly filled block
        if part.numel():
            b = self.prompt_len[part] // BLOCK
            self._copy_blocks(self.prompt_table[part // self.copies, b], self.table[part, b])
        self._make_plan(self.table)
        return logits

    def prompt_entries(self) -> list[BlockEntry]:
        """Each prompt's blocks as a prefix-cache entry (not held until the cache stores it)."""
        n_blocks = (self.lengths + BLOCK - 1) // BLOCK
        return [
            BlockEntry(self.pool, self.prompt_table[p, :nb].clone(), n, n)
            for p, (n, nb) in enumerate(zip(self.lengths.tolist(), n_blocks.tolist()))
        ]

    def row_entry(self, j: int, generated: int) -> BlockEntry:
        """Row j's prompt and first `generated` generated tokens as a prefix-cache entry (its prompt's
        full blocks and its own; a row is never written after it leaves the batch)."""
        n = int(self.prompt_len[j]) + generated
        return BlockEntry(self.pool, self.table[j, : -(-n // BLOCK)].clone(), n, generated)

    def row_kv(self, j: int, generated: int, prompt: bool = True) -> KV:
        """Row j's per-layer K/V (Hkv, n, D) over its prompt columns (prompt=False: without them) and
        its first `generated` generated tokens."""
        n_prompt = int(self.prompt_len[j])
        c0, c1 = 0 if prompt else n_prompt, n_prompt + generated
        b0 = c0 // BLOCK
        return self.pool.read(self.table[j, b0 : -(-c1 // BLOCK)], c0 - b0 * BLOCK, c1 - b0 * BLOCK)

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only `rows` (R',) of the batch (their blocks stay where they are)."""
        self.table = self.table.index_select(0, rows)
        self.prompt_len = self.prompt_len.index_select(0, rows)
        self._make_plan(self.table)

    def release(self) -> None:
        """Let go of every block this call holds (prefix-cache entries keep theirs)."""
        for ids in self.held:
            self.pool.release(ids)
        self.held = []

    def _make_plan(self, table: torch.Tensor) -> None:
        """The plan over `table` (R, nb): the prompt table for the prefill, the row table after."""
        w, dims = self.weights, self.dims
        R, nb = table.shape
        cap = self.cos.shape[0]
        self.layers = (Layer * dims["n_layers"])()
        for i, lw in enumerate(w.layers):
            ptrs = {k: ptr(t) for k, t in lw.items()}
            self.layers[i] = Layer(**ptrs, kt=self.pool.kt[i].data_ptr(), v=self.pool.v[i].data_ptr())
        plan = Plan(**dims, V=w.vocab, cap=cap, R=R, nb=nb, eps=self.eps, scale=dims["D"] ** -0.5, layers=self.layers)
        plan.embed, plan.head, plan.cos, plan.sin = w.embed.data_ptr(), w.head.data_ptr(), ptr(self.cos), ptr(self.sin)
        plan.table = table.data_ptr()
        self.plan = plan
        self.plan_ptr = ctypes.addressof(plan)
        self.work = torch.empty(self.lib.ponder_work_floats(self.plan_ptr, R))
        plan.work = self.work.data_ptr()
        self._picked = (torch.empty(R, dtype=torch.int64), torch.empty(R, dtype=torch.int64), ctypes.c_int64(0))

    def step(self, tokens: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """tokens (R,) int64 written at each row's cache column pos (R,) int64 (also its rotary
        position), advanced by one in place. Returns the next-token logits (R, V)."""
        tokens = tokens.contiguous() if tokens.dtype == torch.int64 else tokens.long().contiguous()
        logits = torch.empty(self.table.shape[0], self.weights.vocab)
        self.lib.ponder_decode_step(self.plan_ptr, tokens.data_ptr(), pos.data_ptr(), logits.data_ptr())
        return logits

    def choose(self, logits: torch.Tensor, temperature: float, rng, step: int, rows: torch.Tensor | None):
        """gen.sampling.choose_tokens without top-k/top-p in one call: (tokens (R,), logprobs (R,)).
        Batch row b draws with the uniform of original row rows[b] (None: b) at `step` from rng
        (gen/rng.RowUniforms), computed in the kernel from the same keys."""
        R, V = logits.shape
        logits = logits.contiguous()
        keys = None if temperature == 0 else rng.keys
        tokens, logprobs = torch.empty(R, dtype=torch.int64), torch.empty(R)
        self.lib.ponder_sample(
            logits.data_ptr(), R, V, ptr(keys), ptr(rows), step, temperature, tokens.data_ptr(), logprobs.data_ptr()
        )
        return tokens, logprobs

    def choose_record(self, logits, temperature: float, state, t: int, eos_table, can_end):
        """`choose` plus the sampling loop's record (gen/loop.py LoopState at step t: tokens,
        logprobs, ended by EOS) in one call. can_end: (V,) bool or None. Returns (tokens (R,), rows
        not ended, batch rows whose token can complete a stop string on a row not ended). Each
        row's uniform is computed in the kernel from its key (state.rng.keys, by original row);
        the tokens tensor is reused by the next call."""
        R, V = logits.shape
        logits = logits.contiguous()
        keys = None if temperature == 0 else state.rng.keys
        tokens, cand, n_cand = self._picked
        live = self.lib.ponder_choose_record(
            logits.data_ptr(), R, V, ptr(keys), temperature, state.rows.data_ptr(), tokens.data_ptr(),
            state.tokens.data_ptr(), state.logprobs.data_ptr(), state.tokens.shape[1], t, eos_table.data_ptr(),
            state.ended.data_ptr(), ptr(can_end), None if can_end is None else cand.data_ptr(), ctypes.byref(n_cand),
        )  # fmt: skip
        return tokens, live, [] if can_end is None else cand[: n_cand.value].tolist()
