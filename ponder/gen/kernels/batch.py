"""One batch of rows in the compiled kernels (decode.cpp): its paged cache, its plan, and the calls.

The cache is a pool of blocks of 16 positions per layer and a block table per row: the `copies`
rows of one prompt point at the same blocks for every full block of the prompt, and each row owns
the rest (the prompt's partly filled last block, copied once after the prefill, and the blocks its
generated tokens go to). A row has no padding: its column is its rotary position, and attention
reads exactly its own positions; dropping rows (`keep`) only drops table rows. `KernelBatch` owns
the tensors (pools, table, scratch) and the ctypes `Plan` that points at them; a batch shape change
rebuilds the plan. A call's life: `allocate` the pool and tables, `put_prefix` the reused prefix
K/V (prefix cache) into each prompt's blocks, `prefill` every prompt's new tokens (each prompt
once), then one `step` per token, with `choose_record` picking the tokens and doing the sampling
loop's bookkeeping in one call. Left out: anything but fp32 on CPU (plan.unsupported_reason); a
pool that outlives the call (the prefix cache still keeps its own tensors, so a reused prefix is
copied into the pool once per prompt).
"""

from __future__ import annotations

import ctypes

import torch

from ponder.gen.kernels.plan import BLOCK, KernelWeights, Layer, Plan, ptr

PREFILL_CHUNK = 256  # prompt tokens per pass through the layers (whole prompts; a longer one alone)

KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: K (Hkv, n, D), V (Hkv, n, D)


def block_tables(lengths: torch.Tensor, copies: int, max_new: int) -> tuple[torch.Tensor, int]:
    """Prompts of `lengths` (P,) tokens, `copies` rows each with room for max_new more: (the block
    table (R, nb), the number of blocks). Prompt p's full blocks are shared by its rows
    p * copies ... (p + 1) * copies - 1; every later block of a row is its own. Entries past a row's
    last block repeat block 0 (never read)."""
    prompt = torch.arange(lengths.shape[0] * copies) // copies
    full = (lengths // BLOCK)[prompt]  # (R,) shared blocks per row
    n_row = (lengths[prompt] + max_new + BLOCK - 1) // BLOCK  # (R,) blocks a row needs
    own = n_row - full
    shared = lengths // BLOCK
    shared_base = (shared.cumsum(0) - shared)[prompt]
    own_base = int(shared.sum()) + own.cumsum(0) - own
    b = torch.arange(int(n_row.max()))[None, :]
    table = torch.where(b < full[:, None], shared_base[:, None] + b, own_base[:, None] + b - full[:, None])
    table.masked_fill_(b >= n_row[:, None], 0)
    return table.contiguous(), int(shared.sum() + own.sum())


class KernelBatch:
    """Rows decoding through the compiled step. dims: n_layers, d, H, Hkv, D, I; cos/sin: (cap,
    D / 2) RoPE tables as transformers computes them, cap >= the longest row's prompt + max_new."""

    def __init__(self, lib, weights: KernelWeights, dims: dict, eps: float, cos, sin):
        self.lib, self.weights, self.dims, self.eps = lib, weights, dims, eps
        self.cos, self.sin = cos.contiguous(), sin.contiguous()
        self.kt: list[torch.Tensor] = []
        self.v: list[torch.Tensor] = []

    def allocate(self, lengths: torch.Tensor, copies: int, max_new: int, workspace=None) -> None:
        """Tables and uninitialised block pools for prompts of `lengths` (P,) tokens with `copies`
        rows each and room for max_new more tokens per row; memory from `workspace`
        (gen.workspace.Workspace) when given. Per layer keys (n_blocks, Hkv, D, 16), values
        (n_blocks, Hkv, 16, D). Lanes past a row's length are never read."""
        self.lib.ponder_set_threads(torch.get_num_threads())  # the kernel's threads (pool.h), per call
        self.copies = copies
        self.table, n_blocks = block_tables(lengths, copies, max_new)
        self.prompt_len = lengths.repeat_interleave(copies)  # (R,) each row's prompt columns
        Hkv, D = self.dims["Hkv"], self.dims["D"]
        like = self.weights.embed
        shapes = {"kt": (n_blocks, Hkv, D, BLOCK), "v": (n_blocks, Hkv, BLOCK, D)}
        for i in range(self.dims["n_layers"]):
            for name, shape in shapes.items():
                t = (
                    torch.empty(shape, dtype=like.dtype)
                    if workspace is None
                    else workspace.take((name, i), shape, like)
                )
                getattr(self, name).append(t)
        self._make_plan()

    def put_prefix(self, found: list[tuple[int, KV | None]]) -> None:
        """found[p]: (n, per-layer K/V (Hkv, n, D)) of prompt p's reused columns 0..n-1 (n = 0: none),
        written once into the prompt's blocks (its rows share them, or copy the last one later)."""
        used = [(p, n, kv) for p, (n, kv) in enumerate(found) if n]
        rows = torch.cat([torch.full((n,), p * self.copies) for p, n, _ in used])
        cols = torch.cat([torch.arange(n) for _, n, _ in used])
        for i in range(self.dims["n_layers"]):
            k = torch.cat([kv[i][0] for _, _, kv in used], dim=1).contiguous()  # (Hkv, N, D)
            v = torch.cat([kv[i][1] for _, _, kv in used], dim=1).contiguous()
            self.lib.ponder_write_kv(
                self.plan_ptr, i, rows.shape[0], rows.data_ptr(), cols.data_ptr(), k.data_ptr(), v.data_ptr(),
                k.shape[1],
            )  # fmt: skip

    def prefill(self, ids: torch.Tensor, mask: torch.Tensor, reused: torch.Tensor) -> torch.Tensor:
        """Left-padded prompts ids/mask (P, T) whose first reused[p] tokens are in the cache already:
        the rest of each prompt's tokens through the kernel, once per prompt (into its first row),
        then its partly filled last block copied to its other rows. Returns each prompt's
        next-token logits (P, V)."""
        P = ids.shape[0]
        col = mask.long().cumsum(1) - 1
        new = mask & (col >= reused[:, None])  # row-major: prompt by prompt, columns increasing
        p, s = new.nonzero().unbind(1)
        tokens, rows, cols = ids[p, s].long().contiguous(), (p * self.copies).contiguous(), col[p, s].contiguous()
        counts = new.sum(1)
        ends = counts.cumsum(0)
        work = torch.empty(self.lib.ponder_work_floats(self.plan_ptr, max(PREFILL_CHUNK, int(counts.max()))))
        logits = torch.empty(P, self.weights.vocab)
        args = [ends, tokens, rows, cols]
        self.lib.ponder_prefill(
            self.plan_ptr, P, *[t.data_ptr() for t in args], PREFILL_CHUNK, work.data_ptr(), logits.data_ptr()
        )
        self._copy_last_blocks(P)
        return logits

    def _copy_last_blocks(self, P: int) -> None:
        """Each prompt's partly filled last block from its first row into its other rows' own blocks."""
        if self.copies == 1:
            return
        lengths = self.prompt_len.view(P, self.copies)[:, 0]
        part = (lengths % BLOCK).nonzero().squeeze(1)
        if part.numel() == 0:
            return
        b = (lengths[part] // BLOCK)[:, None]
        rows = part[:, None] * self.copies + torch.arange(self.copies)[None, :]  # (n, copies)
        blocks = self.table[rows, b]
        src = blocks[:, :1].expand(-1, self.copies - 1).contiguous()
        dst = blocks[:, 1:].contiguous()
        self.lib.ponder_copy_blocks(self.plan_ptr, dst.numel(), src.data_ptr(), dst.data_ptr())

    def _columns(self, rows: torch.Tensor, c0: int, c1: int) -> KV:
        """Per layer K/V of columns c0..c1-1 of `rows` (n,): each (n, Hkv, c1 - c0, D), copies."""
        b0, b1 = c0 // BLOCK, -(-c1 // BLOCK)
        blocks = self.table[rows, b0:b1]  # (n, nb)
        n, nb = blocks.shape
        out = []
        for kt, v in zip(self.kt, self.v):
            _, Hkv, D, _ = kt.shape
            k = kt[blocks].permute(0, 2, 1, 4, 3).reshape(n, Hkv, nb * BLOCK, D)
            vv = v[blocks].transpose(1, 2).reshape(n, Hkv, nb * BLOCK, D)
            out.append((k[:, :, c0 - b0 * BLOCK : c1 - b0 * BLOCK], vv[:, :, c0 - b0 * BLOCK : c1 - b0 * BLOCK]))
        return out

    def prompt_kv(self) -> list[KV]:
        """Each prompt's per-layer K/V over its columns, each (Hkv, n_p, D) (views of one gathered copy)."""
        lengths = self.prompt_len[:: self.copies]
        kv = self._columns(torch.arange(lengths.shape[0]) * self.copies, 0, int(lengths.max()))
        return [[(k[p, :, :n], v[p, :, :n]) for k, v in kv] for p, n in enumerate(lengths.tolist())]

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only `rows` (R',) of the batch (their blocks stay where they are)."""
        self.table = self.table.index_select(0, rows)
        self.prompt_len = self.prompt_len.index_select(0, rows)
        self._make_plan()

    def row_kv(self, j: int, generated: int, prompt: bool = True) -> KV:
        """Row j's per-layer K/V (Hkv, n, D) over its prompt columns (prompt=False: without them) and
        its first `generated` generated tokens."""
        n_prompt = int(self.prompt_len[j])
        kv = self._columns(torch.tensor([j]), 0 if prompt else n_prompt, n_prompt + generated)
        return [(k[0], v[0]) for k, v in kv]

    def _make_plan(self) -> None:
        w, dims = self.weights, self.dims
        R, nb = self.table.shape
        cap = self.cos.shape[0]
        self.layers = (Layer * dims["n_layers"])()
        for i, lw in enumerate(w.layers):
            ptrs = {k: ptr(t) for k, t in lw.items()}
            self.layers[i] = Layer(**ptrs, kt=self.kt[i].data_ptr(), v=self.v[i].data_ptr())
        plan = Plan(**dims, V=w.vocab, cap=cap, R=R, nb=nb, eps=self.eps, scale=dims["D"] ** -0.5, layers=self.layers)
        plan.embed, plan.head, plan.cos, plan.sin = w.embed.data_ptr(), w.head.data_ptr(), ptr(self.cos), ptr(self.sin)
        plan.table = self.table.data_ptr()
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
