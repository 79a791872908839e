"""The Python side of the C++ kernels: which models they run, and the weights packed for them.

`kernel_weights` reads a Llama-style model's live parameters into the layout decode.cpp
multiplies by: (in, out) matrices cut into panels of 32 columns, RMSNorm weights folded into the
next matrix, q/k/v and gate/up fused; `rope_tables` the RoPE cos/sin, kept per rotary module. The
ctypes mirrors of layers.h's `Plan` and `Layer` are here too; gen/kernels/batch.py fills them for
one batch. Left out: dtypes other than fp32,
head_dim not a multiple of 16 (`unsupported_reason` says so and the caller takes the eager path).
"""

from __future__ import annotations

import ctypes
import weakref
from dataclasses import dataclass

import torch

PANEL = 32  # columns per packed panel (two AVX-512 vectors), see gemm.h
ROPE_MIN = 512  # positions in a first RoPE table; a longer call doubles it
_rope: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # rotary module -> (key, cos, sin)


class Layer(ctypes.Structure):
    _fields_ = [(n, ctypes.c_void_p) for n in ("wqkv", "bqkv", "wo", "bo", "wgu", "wd", "kt", "v")]


class Plan(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int64) for n in ("n_layers", "d", "H", "Hkv", "D", "I", "V", "cap", "R", "nb")]
    _fields_ += [("eps", ctypes.c_float), ("scale", ctypes.c_float)]
    _fields_ += [(n, ctypes.c_void_p) for n in ("embed", "head", "cos", "sin", "table", "work")]
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
    return None


def panels(w: torch.Tensor) -> torch.Tensor:
    """(K, N) -> (ceil(N / 32), K, 32): column panels, each K contiguous rows of 32, zero padded."""
    K, N = w.shape
    n_panels = -(-N // PANEL)
    padded = w.new_zeros(K, n_panels * PANEL)
    padded[:, :N] = w
    return padded.view(K, n_panels, PANEL).transpose(0, 1).contiguous()


def ptr(t: torch.Tensor | None) -> int | None:
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


def rope_tables(rot, cap: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin (cap, D / 2) for positions 0..cap-1 as transformers computes them (position *
    inv_freq, times attention_scaling), cut from a table kept per rotary module `rot`. Computing
    them on every call ran torch's cos/sin on its OpenMP threads at 2+ torch threads, and their
    spin-wait after it took the second core from the kernel's own workers for ~3 ms per call."""
    key = (rot.inv_freq.data_ptr(), rot.inv_freq._version, float(rot.attention_scaling))
    have = _rope.get(rot)
    if have is None or have[0] != key or have[1].shape[0] < cap:
        n = max(cap, ROPE_MIN, 2 * have[1].shape[0] if have is not None and have[0] == key else 0)
        freqs = torch.arange(n, dtype=torch.float)[:, None] * rot.inv_freq.float()[None, :]
        have = _rope[rot] = (key, freqs.cos() * rot.attention_scaling, freqs.sin() * rot.attention_scaling)
    return have[1][:cap], have[2][:cap]
