"""The Python side of the C++ decode step: weights packed for it, and one batch's caches and plan.

`kernel_weights` reads a Llama-style model's live parameters into the layout decode.cpp
multiplies by: (in, out) matrices cut into panels of 32 columns, RMSNorm weights folded into the
next matrix, q/k/v and gate/up fused. `KernelBatch` owns one batch's tensors (transposed key
cache, value cache, padding bias, scratch) and the ctypes `Plan` that points at them; a step is
one foreign call. The tensors stay referenced here, so the pointers in the plan stay valid; a
batch shape change (`keep`) rebuilds the plan. Left out: dtypes other than fp32, head_dim not a
multiple of 16 (`unsupported_reason` says so and the caller takes the eager step).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import torch

PANEL = 32  # columns per packed panel (two AVX-512 vectors), see gemm.h
BLOCK = 16  # cache positions per key block (one AVX-512 vector), see decode.cpp
# With several torch threads, models above this size decode faster on torch's threaded matmuls
# than on the single-threaded kernel (below it the step is op-bound and the kernel wins anyway).
MANY_THREADS_MAX_PARAMS = 10_000_000


class Layer(ctypes.Structure):
    _fields_ = [(n, ctypes.c_void_p) for n in ("wqkv", "bqkv", "wo", "bo", "wgu", "wd", "kt", "v")]


class Plan(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int64) for n in ("n_layers", "d", "H", "Hkv", "D", "I", "V", "cap", "R")]
    _fields_ += [("eps", ctypes.c_float), ("scale", ctypes.c_float)]
    _fields_ += [(n, ctypes.c_void_p) for n in ("embed", "head", "cos", "sin", "bias", "work")]
    _fields_ += [("layers", ctypes.POINTER(Layer))]


def unsupported_reason(model) -> str | None:
    """Why the kernel cannot run this (fast-path-eligible) model (None = it can)."""
    cfg = model.config
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    dtype = model.model.embed_tokens.weight.dtype
    device = model.model.embed_tokens.weight.device
    if device.type != "cpu" or dtype != torch.float32:
        return f"{dtype} on {device.type} (the kernel runs fp32 on CPU)"
    if head_dim % 16:
        return f"head_dim {head_dim} is not a multiple of 16"
    if cfg.num_attention_heads % cfg.num_key_value_heads:
        return "query heads are not a multiple of kv heads"
    n_params = sum(p.numel() for p in model.parameters())
    if torch.get_num_threads() > 1 and n_params > MANY_THREADS_MAX_PARAMS:
        return f"{torch.get_num_threads()} torch threads and {n_params:,} parameters (the kernel uses one thread)"
    return None


def panels(w: torch.Tensor) -> torch.Tensor:
    """(K, N) -> (ceil(N / 32), K, 32): column panels, each K contiguous rows of 32, zero padded."""
    K, N = w.shape
    n_panels = -(-N // PANEL)
    padded = w.new_zeros(K, n_panels * PANEL)
    padded[:, :N] = w
    return padded.view(K, n_panels, PANEL).transpose(0, 1).contiguous()


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


@dataclass
class KernelWeights:
    embed: torch.Tensor  # (vocab of the embedding, d)
    head: torch.Tensor  # panels of (d, V), final norm folded
    vocab: int  # V, the output head's rows
    layers: list[dict[str, torch.Tensor | None]]  # wqkv, bqkv, wo, bo, wgu, wd


def kernel_weights(model) -> KernelWeights:
    """Copies of the model's live fp32 weights in decode.cpp's layout (see module docstring)."""
    inner = model.model
    layers = []
    for layer in inner.layers:
        att, mlp = layer.self_attn, layer.mlp
        projs = (att.q_proj, att.k_proj, att.v_proj)
        wqkv = torch.cat([m.weight for m in projs]).t() * layer.input_layernorm.weight[:, None]
        has_bias = any(m.bias is not None for m in projs)
        bqkv = torch.cat([m.bias if m.bias is not None else m.weight.new_zeros(m.out_features) for m in projs])
        wgu = torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).t() * layer.post_attention_layernorm.weight[:, None]
        layers.append(
            dict(
                wqkv=panels(wqkv),
                bqkv=bqkv.contiguous() if has_bias else None,
                wo=panels(att.o_proj.weight.t()),
                bo=None if att.o_proj.bias is None else att.o_proj.bias.contiguous(),
                wgu=panels(wgu),
                wd=panels(mlp.down_proj.weight.t()),
            )
        )
    head = panels(model.lm_head.weight.t() * inner.norm.weight[:, None])
    vocab = model.lm_head.weight.shape[0]
    return KernelWeights(embed=inner.embed_tokens.weight.contiguous(), head=head, vocab=vocab, layers=layers)


class KernelBatch:
    """One batch of R rows decoding through the compiled step (ponder_decode_step in decode.cpp).

    Built after the eager prefill: `fill` copies each prompt's prefill K/V into its rows' caches.
    dims: n_layers, d, H, Hkv, D, I; cos/sin: (cap, D / 2) RoPE tables as transformers computes
    them; bias: (R, cap) 0 for real cache columns and -inf for padding. The kernel's cap is cap
    rounded up to a multiple of 16 (whole key blocks); columns past cap are never written."""

    def __init__(self, lib, weights: KernelWeights, dims: dict, eps: float, cos, sin, bias: torch.Tensor):
        self.lib, self.weights, self.dims, self.eps = lib, weights, dims, eps
        self.cos, self.sin = cos.contiguous(), sin.contiguous()
        R, cap = bias.shape
        self.bias = bias.new_zeros(R, -(-cap // BLOCK) * BLOCK)  # cap rounded up to whole key blocks
        self.bias[:, :cap] = bias
        self.kt: list[torch.Tensor] = []
        self.v: list[torch.Tensor] = []

    def fill(self, prefill: list[tuple[torch.Tensor, torch.Tensor]], copies: int) -> None:
        """prefill: per layer (k, v), each (P, Hkv, T, D); rows i * copies ... hold prompt i. Keys
        go into blocks of 16 positions (R * Hkv, cap / 16, D, 16), values into (R * Hkv, cap, D)."""
        R, cap = self.bias.shape
        for k, v in prefill:
            P, Hkv, T, D = k.shape
            n_blocks = -(-T // BLOCK)
            padded = k.new_zeros(P, Hkv, n_blocks * BLOCK, D)
            padded[:, :, :T] = k
            # uninitialised past T: a step writes column col before reading columns <= col, and the
            # lanes it loads past col in a key block only reach masked-off scores
            kt = k.new_empty(R * Hkv, cap // BLOCK, D, BLOCK)
            vc = v.new_empty(R * Hkv, cap, D)
            blocks = padded.view(P, Hkv, n_blocks, BLOCK, D).transpose(-1, -2)  # (P, Hkv, n_blocks, D, 16)
            kt.view(P, copies, Hkv, cap // BLOCK, D, BLOCK)[:, :, :, :n_blocks] = blocks[:, None]
            vc.view(P, copies, Hkv, cap, D)[:, :, :, :T] = v[:, None]
            self.kt.append(kt)
            self.v.append(vc)
        self._make_plan()

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
            ptrs = {k: _ptr(t) for k, t in lw.items()}
            self.layers[i] = Layer(**ptrs, kt=self.kt[i].data_ptr(), v=self.v[i].data_ptr())
        plan = Plan(**dims, V=w.vocab, cap=cap, R=R, eps=self.eps, scale=dims["D"] ** -0.5, layers=self.layers)
        plan.embed, plan.head, plan.cos, plan.sin = (
            w.embed.data_ptr(),
            w.head.data_ptr(),
            _ptr(self.cos),
            _ptr(self.sin),
        )
        plan.bias = self.bias.data_ptr()
        self.plan = plan
        self.work = torch.empty(self.lib.ponder_work_floats(ctypes.byref(plan)))
        plan.work = self.work.data_ptr()
        self.plan_ptr = ctypes.addressof(plan)

    def step(self, tokens: torch.Tensor, pos: torch.Tensor, col: int) -> torch.Tensor:
        """tokens (R,) int64 written at cache column col; pos (R,) int64 rotary positions, advanced
        by one in place. Returns the next-token logits (R, V)."""
        tokens = tokens.contiguous() if tokens.dtype == torch.int64 else tokens.long().contiguous()
        logits = torch.empty(self.bias.shape[0], self.weights.vocab)
        self.lib.ponder_decode_step(self.plan_ptr, tokens.data_ptr(), pos.data_ptr(), col, logits.data_ptr())
        return logits

    def choose(self, logits: torch.Tensor, temperature: float, generator) -> tuple[torch.Tensor, torch.Tensor]:
        """gen.sampling.choose_tokens without top-k/top-p in one call: (tokens (R,), logprobs (R,)).
        Draws the same one uniform per row from `generator` as the torch version does."""
        R, V = logits.shape
        logits = logits.contiguous()
        u = None if temperature == 0 else torch.rand(R, generator=generator)
        tokens, logprobs = torch.empty(R, dtype=torch.int64), torch.empty(R)
        self.lib.ponder_sample(
            logits.data_ptr(), R, V, _ptr(u), temperature, tokens.data_ptr(), logprobs.data_ptr()
        )  # fmt: skip
        return tokens, logprobs
