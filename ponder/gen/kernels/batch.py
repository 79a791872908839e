"""One batch of rows in the compiled kernels (decode.cpp): its caches, its plan, and the calls.

`KernelBatch` owns one batch's tensors (blocked key cache, value cache, padding bias, scratch) and
the ctypes `Plan` that points at them; the tensors stay referenced here, so the pointers in the
plan stay valid, and a batch shape change (`keep`) rebuilds the plan. A call's life: `allocate`
the caches, `put_prefix` the reused prefix K/V (prefix cache) if any, `prefill` every prompt's
tokens (each prompt once, then copied to its other rows), then one `step` per token, with
`choose_record` picking the tokens and doing the sampling loop's bookkeeping in one call.
Left out: anything but fp32 on CPU (plan.unsupported_reason).
"""

from __future__ import annotations

import ctypes

import torch

from ponder.gen.kernels.plan import BLOCK, KernelWeights, Layer, Plan, ptr

PREFILL_CHUNK = 256  # prompt tokens per pass through the layers (whole prompts; a longer one alone)


class KernelBatch:
    """R rows decoding through the compiled step. dims: n_layers, d, H, Hkv, D, I; cos/sin: (cap,
    D / 2) RoPE tables as transformers computes them; bias: (R, cap) 0 for real cache columns and
    -inf for padding. The kernel's cap is cap rounded up to a multiple of 16 (whole key blocks);
    columns past cap are never written."""

    def __init__(self, lib, weights: KernelWeights, dims: dict, eps: float, cos, sin, bias: torch.Tensor):
        self.lib, self.weights, self.dims, self.eps = lib, weights, dims, eps
        self.cos, self.sin = cos.contiguous(), sin.contiguous()
        R, cap = bias.shape
        self.bias = bias.new_zeros(R, -(-cap // BLOCK) * BLOCK)  # cap rounded up to whole key blocks
        self.bias[:, :cap] = bias
        self.kt: list[torch.Tensor] = []
        self.v: list[torch.Tensor] = []

    def allocate(self, workspace=None) -> None:
        """Uninitialised caches per layer: keys in blocks of 16 positions (R * Hkv, cap / 16, D, 16),
        values (R * Hkv, cap, D); memory from `workspace` (gen.workspace.Workspace) when given. A
        step writes column col before reading columns <= col, the prefill zeroes padding columns,
        and the lanes a step loads past col in a key block only reach masked-off scores."""
        R, cap = self.bias.shape
        Hkv, D = self.dims["Hkv"], self.dims["D"]
        like = self.weights.embed
        shapes = {"kt": (R * Hkv, cap // BLOCK, D, BLOCK), "v": (R * Hkv, cap, D)}
        for i in range(self.dims["n_layers"]):
            for name, shape in shapes.items():
                t = (
                    torch.empty(shape, dtype=like.dtype)
                    if workspace is None
                    else workspace.take((name, i), shape, like)
                )
                getattr(self, name).append(t)
        self._make_plan()

    def put_prefix(self, prefix: list[tuple[torch.Tensor, torch.Tensor]], copies: int) -> None:
        """prefix: per layer (k, v), each (P, Hkv, C, D), the reused columns 0..C-1 of prompt p's
        first row p * copies (zeros where a prompt reuses fewer). Columns C.. of the last key block
        get zeros; the prefill writes them."""
        R, cap = self.bias.shape
        for (k, v), kt, vc in zip(prefix, self.kt, self.v):
            P, Hkv, C, D = k.shape
            n_blocks = -(-C // BLOCK)
            padded = k.new_zeros(P, Hkv, n_blocks * BLOCK, D)
            padded[:, :, :C] = k
            blocks = padded.view(P, Hkv, n_blocks, BLOCK, D).transpose(-1, -2)  # (P, Hkv, n_blocks, D, 16)
            kt.view(P, R // P, Hkv, cap // BLOCK, D, BLOCK)[:, 0, :, :n_blocks] = blocks
            vc.view(P, R // P, Hkv, cap, D)[:, 0, :, :C] = v

    def prefill(self, ids: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor, first: int, copies: int):
        """Left-padded prompts ids/mask (P, S) at cache columns first..first+S-1 (rotary positions
        pos (P, S)) through the kernel: each prompt's real tokens only, into its first row, then
        copied to its other rows. Returns each prompt's next-token logits (P, V)."""
        P, S = ids.shape
        p, s = mask.nonzero().unbind(1)  # row-major: prompt by prompt, columns increasing
        lengths = mask.sum(1)
        ends = lengths.cumsum(0)
        tokens, rows = ids[p, s].long().contiguous(), (p * copies).contiguous()
        cols, pos = (s + first).contiguous(), pos[p, s].contiguous()
        work = torch.empty(self.lib.ponder_work_floats(self.plan_ptr, max(PREFILL_CHUNK, int(lengths.max()))))
        logits = torch.empty(P, self.weights.vocab)
        args = [ends, tokens, rows, cols, pos]
        self.lib.ponder_prefill(
            self.plan_ptr, P, *[t.data_ptr() for t in args], first, first + S, PREFILL_CHUNK, work.data_ptr(),
            logits.data_ptr(),
        )  # fmt: skip
        if copies > 1:
            self._copy_prompt_rows(P, copies, first + S)
        return logits

    def _copy_prompt_rows(self, P: int, copies: int, T: int) -> None:
        """Columns 0..T-1 of each prompt's first row into its other copies - 1 rows."""
        R, cap = self.bias.shape
        Hkv, D, n_blocks = self.dims["Hkv"], self.dims["D"], -(-T // BLOCK)
        for kt, v in zip(self.kt, self.v):
            k6 = kt.view(P, copies, Hkv, cap // BLOCK, D, BLOCK)
            k6[:, 1:, :, :n_blocks] = k6[:, :1, :, :n_blocks]
            v5 = v.view(P, copies, Hkv, cap, D)
            v5[:, 1:, :, :T] = v5[:, :1, :, :T]

    def prompt_kv(self, copies: int, T: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer each prompt's keys and values over columns 0..T-1 of its first row, each
        (P, Hkv, T, D) (keys unblocked: a copy; values a view)."""
        R, cap = self.bias.shape
        Hkv, D, n_blocks = self.dims["Hkv"], self.dims["D"], -(-T // BLOCK)
        out = []
        for kt, v in zip(self.kt, self.v):
            k = kt.view(R // copies, copies, Hkv, cap // BLOCK, D, BLOCK)[:, 0, :, :n_blocks]
            k = k.transpose(-1, -2).reshape(R // copies, Hkv, n_blocks * BLOCK, D)[:, :, :T]
            out.append((k, v.view(R // copies, copies, Hkv, cap, D)[:, 0, :, :T]))
        return out

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only `rows` (R',) of the batch."""
        R = self.bias.shape[0]
        self.kt = [t.view(R, -1).index_select(0, rows).view(-1, *t.shape[1:]) for t in self.kt]
        self.v = [t.view(R, -1).index_select(0, rows).view(-1, *t.shape[1:]) for t in self.v]
        self.bias = self.bias.index_select(0, rows)
        self._make_plan()

    def row_kv(self, j: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Row j's per-layer keys and values, each (Hkv, cap, D) (keys unblocked: a copy)."""
        R, cap = self.bias.shape
        out = []
        for kt, v in zip(self.kt, self.v):
            Hkv, D = kt.shape[0] // R, kt.shape[2]
            k = kt.view(R, Hkv, cap // BLOCK, D, BLOCK)[j].transpose(-1, -2).reshape(Hkv, cap, D)
            out.append((k, v.view(R, Hkv, cap, D)[j]))
        return out

    def _make_plan(self) -> None:
        w, dims = self.weights, self.dims
        R, cap = self.bias.shape
        self.layers = (Layer * dims["n_layers"])()
        for i, lw in enumerate(w.layers):
            ptrs = {k: ptr(t) for k, t in lw.items()}
            self.layers[i] = Layer(**ptrs, kt=self.kt[i].data_ptr(), v=self.v[i].data_ptr())
        plan = Plan(**dims, V=w.vocab, cap=cap, R=R, eps=self.eps, scale=dims["D"] ** -0.5, layers=self.layers)
        plan.embed, plan.head, plan.cos, plan.sin = w.embed.data_ptr(), w.head.data_ptr(), ptr(self.cos), ptr(self.sin)
        plan.bias = self.bias.data_ptr()
        self.plan = plan
        self.plan_ptr = ctypes.addressof(plan)
        self.work = torch.empty(self.lib.ponder_work_floats(self.plan_ptr, R))
        plan.work = self.work.data_ptr()
        self._picked = (torch.empty(R, dtype=torch.int64), torch.empty(R, dtype=torch.int64), ctypes.c_int64(0))

    def step(self, tokens: torch.Tensor, pos: torch.Tensor, col: int) -> torch.Tensor:
        """tokens (R,) int64 written at cache column col; pos (R,) int64 rotary positions, advanced
        by one in place. Returns the next-token logits (R, V)."""
        tokens = tokens.contiguous() if tokens.dtype == torch.int64 else tokens.long().contiguous()
        logits = torch.empty(self.bias.shape[0], self.weights.vocab)
        self.lib.ponder_decode_step(self.plan_ptr, tokens.data_ptr(), pos.data_ptr(), col, logits.data_ptr())
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
