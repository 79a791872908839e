"""A lean decoder for Llama-style causal LMs (Llama, Qwen2, Mistral): static KV cache, few ops.

transformers' `generate()` spends 3-5 ms per step on a 1M-parameter model in framework overhead
(module stack, mask building, a growing cache). This module runs the same arithmetic as
`LlamaForCausalLM.forward` with plain tensor calls over the model's *live* parameters (read at
the start of every `start()`, so an optimizer stepping the model between calls is always seen):
q/k/v and gate/up are concatenated into one matmul each, RoPE rotates q and k together, and the
KV cache is one preallocated tensor per layer written in place. Rows are left padded; every row
writes the same cache column each step while its rotary position is its own token count.

Left out (callers fall back to the generic loop, see `unsupported_reason`): rope types that change
with length (dynamic, longrope), sliding windows shorter than the sequence, activations other than
SiLU, dropout, and architectures with other block layouts (Gemma's norms, MoE, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

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


@dataclass
class LayerWeights:
    ln1: torch.Tensor
    wqkv: torch.Tensor
    bqkv: torch.Tensor | None
    wo: torch.Tensor
    bo: torch.Tensor | None
    ln2: torch.Tensor
    wgu: torch.Tensor
    wd: torch.Tensor


def _cat_bias(*linears) -> torch.Tensor | None:
    if all(m.bias is None for m in linears):
        return None
    return torch.cat([m.bias if m.bias is not None else m.weight.new_zeros(m.out_features) for m in linears])


def read_layer(layer) -> LayerWeights:
    """The live weights of one decoder layer, with q/k/v and gate/up fused (one cat per call)."""
    att, mlp = layer.self_attn, layer.mlp
    return LayerWeights(
        ln1=layer.input_layernorm.weight,
        wqkv=torch.cat([att.q_proj.weight, att.k_proj.weight, att.v_proj.weight]),
        bqkv=_cat_bias(att.q_proj, att.k_proj, att.v_proj),
        wo=att.o_proj.weight,
        bo=att.o_proj.bias,
        ln2=layer.post_attention_layernorm.weight,
        wgu=torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]),
        wd=mlp.down_proj.weight,
    )


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Llama's RMSNorm, op for op: normalise in fp32, cast back, then scale (Zhang & Sennrich 2019)."""
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(x.dtype)


def rope_table(inv_freq: torch.Tensor, scaling: float, length: int, dtype: torch.dtype) -> torch.Tensor:
    """(length, 2, D) cos and signed sin per position, so that rotate_half(x) * sin equals
    roll(x, D/2) * signed_sin (Su et al. 2021, RoFormer)."""
    pos = torch.arange(length, device=inv_freq.device, dtype=torch.float)
    freqs = pos[:, None] * inv_freq.float()[None, :]  # (T, D/2)
    emb = torch.cat([freqs, freqs], dim=-1)  # (T, D)
    cos, sin = emb.cos() * scaling, emb.sin() * scaling
    half = freqs.shape[-1]
    signed_sin = torch.cat([-sin[:, :half], sin[:, half:]], dim=-1)
    return torch.stack([cos, signed_sin], dim=1).to(dtype)


def apply_rope(x: torch.Tensor, cs: torch.Tensor) -> torch.Tensor:
    """x: (B, S, heads, D); cs: (B, S, 1, 2, D) cos / signed sin. Swapping the halves with one flip
    costs one kernel where roll costs three."""
    half = x.shape[-1] // 2
    swapped = x.unflatten(-1, (2, half)).flip(-2).flatten(-2)
    return torch.addcmul(x * cs[..., 0, :], swapped, cs[..., 1, :])


def decode_attention(q, kT, v, bias, scale: float) -> torch.Tensor:
    """One query per row against its cache, query heads grouped over their shared kv head (GQA).

    q: (B, H, 1, D); kT: (B, Hkv, D, L), v: (B, Hkv, L, D) views of the cache; bias: (B, Hkv, 1, L)
    0 or -inf. Returns (B, 1, H * D). Batched matmuls (scale and mask fused into the first):
    for one query they beat the fused CPU attention kernel.
    """
    B, H, _, D = q.shape
    Hkv, L = kT.shape[1], kT.shape[-1]
    qg = q.reshape(B * Hkv, H // Hkv, D)  # query heads j*G..(j+1)*G-1 read kv head j
    scores = torch.baddbmm(bias.reshape(B * Hkv, 1, L), qg, kT.reshape(B * Hkv, D, L), alpha=scale)  # (B*Hkv, G, L)
    probs = scores.softmax(dim=-1) if scores.dtype == torch.float32 else scores.float().softmax(-1).to(v.dtype)
    return torch.bmm(probs, v.reshape(B * Hkv, L, D)).reshape(B, 1, H * D)


class FastLlama:
    """Prefill once, then one call per decoding step over a static cache of `rows` sequences."""

    def __init__(self, model):
        cfg = model.config
        self.model = model
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.eps = cfg.rms_norm_eps
        self.scale = self.head_dim**-0.5

    def start(self, ids: torch.Tensor, mask: torch.Tensor, copies: int, max_new: int) -> torch.Tensor:
        """Encode left-padded prompts ids/mask (P, T) once, give each `copies` rows of cache with room
        for max_new more tokens, and return the next-token logits of every row (P * copies, V)."""
        inner = self.model.model
        self.layers = [read_layer(layer) for layer in inner.layers]
        self.embed, self.final_norm = inner.embed_tokens.weight, inner.norm.weight
        self.lm_head = self.model.lm_head.weight
        P, T = ids.shape
        cap = T + max_new
        rot = inner.rotary_emb
        self.rope = rope_table(rot.inv_freq, rot.attention_scaling, cap, self.embed.dtype)
        pos = (mask.long().cumsum(-1) - 1).clamp(min=0)  # (P, T) rotary positions under left padding
        keep = torch.ones(T, T, dtype=torch.bool, device=ids.device).tril()
        attn = (keep[None] & mask[:, None, :]) | torch.eye(T, dtype=torch.bool, device=ids.device)
        self.cache = [(None, None)] * len(self.layers)
        x = self._forward(ids, self.rope[pos][:, :, None], attn[:, None], col=0, prefill=True)
        self._allocate(copies, cap)
        pad = ~mask.repeat_interleave(copies, dim=0)[:, None, None, :]  # (R, 1, 1, T)
        self.bias = torch.zeros(P * copies, self.n_kv, 1, cap, dtype=self.embed.dtype, device=ids.device)
        self.bias[..., :T].masked_fill_(pad, float("-inf"))  # (R, Hkv, 1, cap): one mask row per kv head
        self.pos = (pos[:, -1] + 1).repeat_interleave(copies)  # (R,) next rotary position per row
        self.col = T
        return self._logits(x[:, -1]).repeat_interleave(copies, dim=0)

    def _allocate(self, copies: int, cap: int) -> None:
        """Move the prefill K/V (P, Hkv, T, D) into static caches: keys transposed (R, Hkv, D, cap),
        so a step's scores are one batched matmul over a slice; values (R, Hkv, cap, D)."""
        filled = []
        for k, v in self.cache:
            P, H, T, D = k.shape
            kc = k.new_empty(P * copies, H, D, cap)
            vc = v.new_empty(P * copies, H, cap, D)
            kc[:, :, :, :T] = k.transpose(-1, -2).repeat_interleave(copies, dim=0)
            vc[:, :, :T] = v.repeat_interleave(copies, dim=0)
            filled.append((kc, vc))
        self.cache = filled

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Append one token per row (R,) and return the next logits (R, V)."""
        cs = self.rope.index_select(0, self.pos)[:, None, None]  # (R, 1, 1, 2, D)
        L = self.col + 1
        x = self._forward(tokens[:, None], cs, self.bias[..., :L], col=self.col, prefill=False)
        self.col, self.pos = L, self.pos + 1
        return self._logits(x[:, -1])

    def keep(self, rows: torch.Tensor) -> None:
        """Drop every row not in `rows` (R',) from the cache: finished sequences stop costing."""
        self.cache = [(k.index_select(0, rows), v.index_select(0, rows)) for k, v in self.cache]
        self.bias, self.pos = self.bias.index_select(0, rows), self.pos.index_select(0, rows)

    def _logits(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(rms_norm(h, self.final_norm, self.eps), self.lm_head)

    def _forward(self, ids, cs, attn, *, col: int, prefill: bool) -> torch.Tensor:
        x = F.embedding(ids, self.embed)  # (B, S, d)
        for i, w in enumerate(self.layers):
            x = x + self._attention(rms_norm(x, w.ln1, self.eps), w, i, cs, attn, col, prefill)
            gate, up = F.linear(rms_norm(x, w.ln2, self.eps), w.wgu).chunk(2, dim=-1)
            x = x + F.linear(F.silu(gate) * up, w.wd)
        return x

    def _attention(self, h, w: LayerWeights, i: int, cs, attn, col: int, prefill: bool) -> torch.Tensor:
        B, S, _ = h.shape
        H, Hkv, D = self.n_heads, self.n_kv, self.head_dim
        qkv = F.linear(h, w.wqkv, w.bqkv).view(B, S, H + 2 * Hkv, D)
        qk = apply_rope(qkv[:, :, : H + Hkv], cs)  # (B, S, H + Hkv, D)
        q = qk[:, :, :H].transpose(1, 2)  # (B, H, S, D)
        k, v = qk[:, :, H:].transpose(1, 2), qkv[:, :, H + Hkv :].transpose(1, 2)
        if prefill:
            self.cache[i] = (k, v)
            gqa = Hkv != H
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn, scale=self.scale, enable_gqa=gqa)
            return F.linear(out.transpose(1, 2).reshape(B, S, H * D), w.wo, w.bo)
        kc, vc = self.cache[i]
        kc[:, :, :, col] = k[:, :, 0]
        vc[:, :, col] = v[:, :, 0]
        out = decode_attention(q, kc[:, :, :, : col + 1], vc[:, :, : col + 1], attn, self.scale)
        return F.linear(out, w.wo, w.bo)
