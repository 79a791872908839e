"""A lean decoder for Llama-style causal LMs (Llama, Qwen2, Mistral): static KV cache, few ops.

transformers' `generate()` spends 3-5 ms per step on a 1M-parameter model in framework overhead
(module stack, mask building, a growing cache). This module runs the same arithmetic as
`LlamaForCausalLM.forward` with plain tensor calls over the model's *live* parameters (derived
copies are rebuilt whenever a parameter's storage or in-place version changes, so an optimizer
stepping the model between calls is always seen). Per step the op count is what costs at small
batch (several us each on a shared 2-core CPU), so: q/k/v are one matmul that also yields
rotate_half(q), rotate_half(k) (extra weight rows), which turns RoPE into one multiply and one
sum; gate/up are one matmul; residual adds are fused into addmm; models up to PACK_MAX_PARAMS
get contiguous (in, out) weight copies with the RMSNorm weights folded in (a small matmul on a
contiguous copy ran ~2x faster than on a transposed view); RMSNorm is transformers' formula with
in-place steps. The KV cache is one preallocated (2, rows * kv heads, cap, D) tensor per layer,
written one column per step; rows are left padded, every row writes the same column while its
rotary position is its own token count.

Where the compiled kernels can run (gen/kernels: fp32 on an AVX-512 CPU with a C++ compiler, head
size a multiple of 16; `PONDER_NO_KERNELS=1` turns them off), the prefill (prefix-cache rows
included), every step, and the token choice + record without top-k/top-p are each one call into
kernels/decode.cpp, over a paged cache without padding (kernels/batch.py: the copies of a prompt
share its blocks, each row has its own length); otherwise the eager torch prefill and step below
run on the left-padded static cache.

Left out (callers fall back to the generic loop, see `unsupported_reason`): rope types that change
with length (dynamic, longrope), sliding windows shorter than the sequence, activations other than
SiLU, dropout, and architectures with other block layouts (Gemma's norms, MoE, ...).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ponder.gen.fast_weights import (
    PACK_MAX_PARAMS,
    LayerWeights,
    PackedWeights,
    folded,
    matmul,
    read_layer,
    rms_norm,
    rope_table,
    transposed,
)
from ponder.gen.kernels import build as kernel_build
from ponder.gen.kernels.batch import KernelBatch, own_blocks
from ponder.gen.kernels.blocks import BLOCK, call_pool
from ponder.gen.kernels.plan import kernel_weights, rope_tables
from ponder.gen.kernels.plan import unsupported_reason as kernel_unsupported
from ponder.gen.prefix_cache import lookup_prompts, reuse_prefixes, store_prompts
from ponder.gen.sampling import choose_tokens

SUPPORTED_TYPES = ("llama", "qwen2", "mistral")
STATIC_ROPE = ("default", "linear", "llama3", "yarn")


def unsupported_reason(model, total_len: int) -> str | None:
    """Why the fast path cannot run this model for sequences of `total_len` tokens (None = it can)."""
    cfg = model.config
    if cfg.model_type not in SUPPORTED_TYPES:
        return f"model_type {cfg.model_type!r} is not one of {SUPPORTED_TYPES}"
    if cfg.hidden_act != "silu":
        return f"activation {cfg.hidden_act!r} is not silu"
    if getattr(cfg, "mlp_bias", False):
        return "MLP biases are not supported"
    rope_type = model.model.rotary_emb.rope_type
    if rope_type not in STATIC_ROPE:
        return f"rope type {rope_type!r} depends on the sequence length"
    window = getattr(cfg, "sliding_window", None)
    uses_window = cfg.model_type == "mistral" or "sliding_attention" in (getattr(cfg, "layer_types", None) or [])
    if uses_window and window is not None and window < total_len:
        return f"sliding window {window} is shorter than the sequence ({total_len} tokens)"
    return None


class FastLlama:
    """Prefill once, then one call per decoding step over a static cache of `rows` sequences."""

    def __init__(self, model, prefix_cache=None, packed: PackedWeights | None = None, workspace=None):
        cfg = model.config
        self.workspace = workspace  # a gen.workspace.Workspace for the static cache, or None
        self.model = model
        self.packed = packed or PackedWeights()
        self.prefix_cache = prefix_cache  # a gen.prefix_cache.PrefixCache, or None
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.eps = cfg.rms_norm_eps
        self.scale = self.head_dim**-0.5
        self.lib = kernel_build.load() if kernel_unsupported(model) is None else None
        self.batch: KernelBatch | None = None  # the compiled step's state, when self.lib

    def start(self, ids: torch.Tensor, mask: torch.Tensor, copies: int, max_new: int) -> torch.Tensor:
        """Encode left-padded prompts ids/mask (P, T) once, give each `copies` rows of cache with room
        for max_new more tokens, and return the next-token logits of every row (P * copies, V)."""
        self.embed = self.model.model.embed_tokens.weight
        seqs = []
        if self.prefix_cache is not None:
            self.prefix_cache.check_weights(self.model)
            seqs = [row[m].tolist() for row, m in zip(ids, mask)]
        found = lookup_prompts(self.prefix_cache, seqs)
        if self.lib is not None:
            logits = self._start_kernel(ids, mask, seqs, found, copies, max_new)
        else:
            logits = self._start_eager(ids, mask, seqs, found, copies, max_new)
        return logits.repeat_interleave(copies, dim=0)

    def _start_eager(self, ids, mask, seqs, found, copies: int, max_new: int) -> torch.Tensor:
        """The torch prefill into left-padded static caches: logits (P, V); keeps the weights and
        the RoPE table for the eager step."""
        ids, mask, done, prefix = reuse_prefixes(found, ids, mask, seqs)
        (P, S), C = ids.shape, done.shape[1]
        cap = C + S + max_new
        # (P, S) rotary positions under left padding, after each row's reused prefix
        pos = done.sum(-1, keepdim=True) + (mask.long().cumsum(-1) - 1).clamp(min=0)
        full = torch.cat([done, mask], dim=1)  # (P, T): T = C + S cache columns so far
        T = full.shape[1]
        pad = ~full.repeat_interleave(copies, dim=0)[:, None, None, :]  # (R, 1, 1, T)
        self.bias = torch.zeros(P * copies, self.n_kv, 1, cap, dtype=self.embed.dtype, device=ids.device)
        self.bias[..., :T].masked_fill_(pad, float("-inf"))  # (R, Hkv, 1, cap): one mask row per kv head
        self.layers, self.lm_head, self.final_norm = self.packed.get(self.model, self._read_weights, "eager")
        rot = self.model.model.rotary_emb
        self.rope = rope_table(
            rot.inv_freq, rot.attention_scaling, cap, self.n_heads + self.n_kv, self.n_kv * self.head_dim
        )
        self.rope = self.rope.to(self.embed.dtype)
        keep = torch.ones(S, S, dtype=torch.bool, device=ids.device).tril()
        attn = (keep[None] & mask[:, None, :]) | torch.eye(S, dtype=torch.bool, device=ids.device)
        attn = torch.cat([done[:, None, :].expand(P, S, C), attn], dim=-1)  # (P, S, C + S)
        self.cache = [(None, None)] * len(self.layers)
        logits = self._logits(self._prefill(ids, self.rope[pos], attn[:, None], prefix)[:, -1])
        if self.prefix_cache is not None:  # each prompt's K/V over its real columns
            cols = [m.nonzero().squeeze(1) for m in full]
            store_prompts(self.prefix_cache, seqs, lambda: self._prompt_kv(cols))
        self._allocate(copies, cap)
        self._flat_views()
        self.pos = (pos[:, -1] + 1).repeat_interleave(copies)  # (R,) next rotary position per row
        self.col = self.first_col = T
        return logits

    def _prompt_kv(self, cols: list[torch.Tensor]) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
        """Prompt i's per-layer K/V (Hkv, n, D) over its real cache columns cols[i], from the prefill."""
        return [[(k[i].index_select(1, c), v[i].index_select(1, c)) for k, v in self.cache] for i, c in enumerate(cols)]

    def _read_weights(self) -> tuple[list[LayerWeights], torch.Tensor, torch.Tensor | None]:
        """Per-layer weights, the (d, V) output head and the final norm's weight (None: folded)."""
        pack = sum(p.numel() for p in self.model.parameters()) <= PACK_MAX_PARAMS
        n_rotary = (self.n_heads + self.n_kv) * self.head_dim
        layers = [read_layer(layer, n_rotary, self.head_dim, pack) for layer in self.model.model.layers]
        head, norm = transposed(self.model.lm_head.weight, pack), self.model.model.norm.weight
        if layers[0].ln1 is None:  # folded like the layers' norms
            return layers, folded(head, norm), None
        return layers, head, norm

    def _allocate(self, copies: int, cap: int) -> None:
        """Move the prefill K/V (P, Hkv, T, D) into one static cache per layer (2, R * Hkv, cap, D):
        keys then values, row-major, so a step writes both with one copy of contiguous D-vectors."""
        filled = []
        for i, (k, v) in enumerate(self.cache):
            P, H, T, D = k.shape
            shape = (2, P * copies * H, cap, D)
            kv = k.new_empty(shape) if self.workspace is None else self.workspace.take(i, shape, k)
            kv[0].view(P, copies, H, cap, D)[:, :, :, :T] = k[:, None]  # each prompt's copies, no repeat
            kv[1].view(P, copies, H, cap, D)[:, :, :, :T] = v[:, None]
            filled.append(kv)
        self.cache = filled

    def _flat_views(self) -> None:
        """Views made once per batch shape, not per step: each layer's cache as (2, R, Hkv, cap, D)
        for the column write, its keys and values (R * Hkv, cap, D), and the mask (R * Hkv, 1, cap)."""
        R = self.bias.shape[0]
        self.write = [kv.view(2, R, self.n_kv, -1, self.head_dim) for kv in self.cache]
        self.flat = [(kv[0].transpose(1, 2), kv[1]) for kv in self.cache]  # keys as (R * Hkv, D, cap)
        self.bias_flat = self.bias.flatten(0, 1)

    def _start_kernel(self, ids, mask, seqs, found, copies: int, max_new: int) -> torch.Tensor:
        """The prefill in the compiled kernel, straight into its paged cache (kernels/batch.py):
        logits (P, V). A prefix from the prefix cache is lent as blocks (or written in once), each
        prompt's new tokens are prefilled once, and its rows share its full blocks; self.pos holds
        each row's next column (= its rotary position: the kernel's rows have no padding)."""
        weights = self.packed.get(self.model, lambda: kernel_weights(self.model), "kernel")
        lengths = mask.sum(1)  # (P,) real tokens per prompt, reused prefix included
        cap = -(-(int(lengths.max()) + max_new) // BLOCK) * BLOCK
        cos, sin = rope_tables(self.model.model.rotary_emb, cap)  # (cap, D / 2), kept per model
        n_layers = len(self.model.model.layers)
        dims = dict(n_layers=n_layers, d=self.embed.shape[1], H=self.n_heads, Hkv=self.n_kv)
        dims.update(D=self.head_dim, I=self.model.config.intermediate_size)
        self.finish()
        blocks = int(((lengths + BLOCK - 1) // BLOCK).sum()) + own_blocks(lengths, copies, max_new)  # at most
        pool = call_pool(self.workspace, (n_layers, self.n_kv, self.head_dim), blocks)
        self.batch = KernelBatch(self.lib, weights, dims, self.eps, cos, sin, pool)
        self.batch.allocate(lengths, copies, max_new, found)
        reused = torch.tensor([n for n, _ in found]) if found else torch.zeros_like(lengths)
        logits = self.batch.prefill(ids, mask, reused)
        if self.prefix_cache is not None:
            store_prompts(self.prefix_cache, seqs, self.batch.prompt_entries)
        self.pos = lengths.repeat_interleave(copies)
        return logits

    def finish(self) -> None:
        """Let go of the kernel cache blocks this call holds (call after the last step)."""
        if self.batch is not None:
            self.batch.release()

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append one token per row (R,) and return the next logits (R, V)."""
        if self.batch is not None:  # the compiled step advances self.pos (each row's column) in place
            return self.batch.step(tokens, self.pos)
        cs = self.rope.index_select(0, self.pos)  # (R, 2, M)
        L = self.col + 1
        bias = self.bias_flat.narrow(2, 0, L)
        x = F.embedding(tokens, self.embed)  # (R, d)
        for i, w in enumerate(self.layers):
            x = self._decode_attention(x, w, i, cs, L, bias)
            gate, up = torch.mm(rms_norm(x, w.ln2, self.eps), w.wgu).chunk(2, dim=-1)
            x = torch.addmm(x, F.silu(gate).mul_(up), w.wd)  # residual fused into the down matmul
        self.col, self.pos = L, self.pos + 1
        return self._logits(x)

    def _kernel_picks(self, logits: torch.Tensor, params: dict) -> bool:
        """Whether the kernel's sampler can pick these tokens: it runs, and no top-k/top-p filter is on."""
        k = params["top_k"]
        plain = params["top_p"] >= 1.0 and (k <= 0 or k >= logits.shape[-1]) and logits.dtype == torch.float32
        return self.batch is not None and plain

    def choose_tokens(self, logits: torch.Tensor, **params) -> tuple[torch.Tensor, torch.Tensor]:
        """gen.sampling.choose_tokens, in the kernel when it runs and no top-k/top-p filter is on."""
        if not self._kernel_picks(logits, params):
            return choose_tokens(logits, **params)
        return self.batch.choose(logits, params["temperature"], params["rng"], params["step"], params["rows"])

    def choose_and_record(self, logits, state, t: int, eos_table, can_end, **params):
        """`choose_tokens` plus the loop's record of step t in one kernel call (gen/loop.py), or None
        where the kernel does not run or a top-k/top-p filter is on. can_end: (V,) bool or None."""
        V = logits.shape[-1]
        tables_fit = eos_table.numel() >= V and (can_end is None or can_end.numel() >= V)
        tables_fit = tables_fit and state.logprobs.dtype == torch.float32 and state.tokens.is_contiguous()
        if not tables_fit or not self._kernel_picks(logits, params):
            return None
        return self.batch.choose_record(logits, params["temperature"], state, t, eos_table, can_end)

    def keep(self, rows: torch.Tensor) -> None:
        """Drop every row not in `rows` (R',) from the cache: finished sequences stop costing."""
        if self.batch is not None:
            self.batch.keep(rows)
            self.pos = self.pos.index_select(0, rows)
            return
        R, Hkv = self.bias.shape[:2]
        self.cache = [kv.view(2, R, Hkv, *kv.shape[2:]).index_select(1, rows).flatten(1, 2) for kv in self.cache]
        self.bias, self.pos = self.bias.index_select(0, rows), self.pos.index_select(0, rows)
        self._flat_views()

    def row_entry(self, j: int, generated: int):
        """Batch row j's prompt and first `generated` generated tokens as a prefix-cache BlockEntry
        (the compiled step's blocks, not copied), or None (the eager step: see row_kv)."""
        return None if self.batch is None else self.batch.row_entry(j, generated)

    def row_kv(self, j: int, generated: int, prompt: bool = True) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
        """Batch row j's per-layer K/V (Hkv, n, D) over its real prompt columns (prompt=False: without
        them) and its first `generated` generated tokens (already fed back), for a prefix cache;
        None when the static cache is not this class's (2, R * Hkv, cap, D) tensors."""
        if self.batch is not None:
            return self.batch.row_kv(j, generated, prompt)
        R, Hkv = self.bias.shape[:2]
        first = 0 if prompt else self.first_col
        cols = first + (self.bias[j, 0, 0, first : self.first_col + generated] == 0).nonzero().squeeze(1)
        if not all(isinstance(kv, torch.Tensor) for kv in self.cache):
            return None
        rows = [kv.view(2, R, Hkv, -1, self.head_dim)[:, j] for kv in self.cache]  # (2, Hkv, cap, D)
        return [(kv[0].index_select(1, cols), kv[1].index_select(1, cols)) for kv in rows]

    def _logits(self, h: torch.Tensor) -> torch.Tensor:
        return matmul(rms_norm(h, self.final_norm, self.eps), self.lm_head)

    def _qkv(self, x: torch.Tensor, w: LayerWeights, cs: torch.Tensor) -> torch.Tensor:
        """Normed x (..., d) through the doubled q/k/v projection, RoPE applied: (..., M)."""
        y = matmul(rms_norm(x, w.ln1, self.eps), w.win, w.bin)
        return (y.unflatten(-1, (2, -1)) * cs).sum(-2)

    def _prefill(self, ids, cs, attn, prefix=None) -> torch.Tensor:
        """The prompts through every layer, keeping each layer's keys and values; cs: (P, S, 2, M)
        rope multipliers; `prefix`: per-layer K/V (P, Hkv, C, D) of reused columns before ids."""
        x = F.embedding(ids, self.embed)  # (B, S, d)
        B, S, _ = x.shape
        H, Hkv, D = self.n_heads, self.n_kv, self.head_dim
        for i, w in enumerate(self.layers):
            qkv = self._qkv(x, w, cs).view(B, S, H + 2 * Hkv, D).transpose(1, 2)  # (B, heads, S, D)
            q, k, v = qkv[:, :H], qkv[:, H : H + Hkv], qkv[:, H + Hkv :]
            if prefix is not None:
                k, v = torch.cat([prefix[i][0], k], dim=2), torch.cat([prefix[i][1], v], dim=2)
            self.cache[i] = (k, v)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn, scale=self.scale, enable_gqa=Hkv != H)
            x = x + matmul(out.transpose(1, 2).reshape(B, S, H * D), w.wo, w.bo)
            gate, up = matmul(rms_norm(x, w.ln2, self.eps), w.wgu).chunk(2, dim=-1)
            x = x + matmul(F.silu(gate) * up, w.wd)
        return x

    def _decode_attention(self, x, w: LayerWeights, i: int, cs, L: int, bias) -> torch.Tensor:
        """x (R, d) plus the attention of its new token over the cache; writes column col."""
        R = x.shape[0]
        H, Hkv, D = self.n_heads, self.n_kv, self.head_dim
        qkv = self._qkv(x, w, cs)  # (R, M)
        self.write[i].select(3, self.col).copy_(qkv[:, H * D :].view(R, 2, Hkv, D).transpose(0, 1))
        kf, vf = self.flat[i]
        scores = torch.baddbmm(
            bias, qkv[:, : H * D].reshape(R * Hkv, H // Hkv, D), kf.narrow(2, 0, L), alpha=self.scale
        )  # (R * Hkv, G, L): query heads j*G..(j+1)*G-1 read kv head j
        probs = scores.softmax(dim=-1) if scores.dtype == torch.float32 else scores.float().softmax(-1).to(vf.dtype)
        out = torch.bmm(probs, vf.narrow(1, 0, L)).view(R, H * D)
        if w.bo is None:
            return torch.addmm(x, out, w.wo)  # residual fused into the output matmul
        return x + torch.addmm(w.bo, out, w.wo)
