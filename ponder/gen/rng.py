"""Per-row random numbers for sampling: a counter-based stream per row, independent of batching.

Every sampled row has a 64-bit key; its uniform at decoding step t is a pure function of (key, t):
the (t + 1)-th number of the splitmix64 stream (Steele, Lea & Flood 2014, "Fast splittable
pseudorandom number generators") that starts at the key, its top 24 bits scaled to [0, 1) (exact
in float32). A row's key is the (copy + 1)-th number of the stream that starts at its prompt's
seed (types.SamplingParams.prompt_seeds). So a row samples the same tokens whatever other rows
share its call, however a call is chunked, and whichever rows have finished: nothing is drawn
from a shared generator. The compiled sampler (gen/kernels/decode.cpp `uniform`) computes the
same numbers bit for bit from the same keys (tests/gen/test_gen_rng.py).

torch has no unsigned 64-bit arithmetic on every device, so the torch version works on int64:
additions and multiplications wrap (two's complement, what torch does on CPU and CUDA), and a
logical right shift is an arithmetic one masked to the bits that remain. Left out: streams
longer than 2**64 steps, and any use other than sampling (training keeps torch's generators).
"""

from __future__ import annotations

import torch

from ponder.types import GOLDEN64, MASK64, mix64

_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


def signed64(x: int) -> int:
    """x mod 2**64 as the int64 with the same bits."""
    x &= MASK64
    return x - (1 << 64) if x >> 63 else x


_M1S, _M2S = signed64(_M1), signed64(_M2)


def _shr(x: torch.Tensor, s: int) -> torch.Tensor:
    """Logical right shift of int64 bits by s (1..63)."""
    return (x >> s) & ((1 << (64 - s)) - 1)


def mix(x: torch.Tensor) -> torch.Tensor:
    """splitmix64's finaliser on the bits of int64 x (any shape); a new tensor."""
    x = x ^ _shr(x, 30)
    x.mul_(_M1S)
    x.bitwise_xor_(_shr(x, 27))
    x.mul_(_M2S)
    return x.bitwise_xor_(_shr(x, 31))


def uniforms(keys: torch.Tensor, first: int, count: int = 1) -> torch.Tensor:
    """Each row's uniforms in [0, 1) at decoding steps first .. first + count - 1.
    keys: (B,) int64 -> (B, count) float32."""
    steps = torch.arange(first + 1, first + count + 1, dtype=torch.int64, device=keys.device)
    x = mix(keys[:, None] + steps.mul_(signed64(GOLDEN64))[None, :])
    return _shr(x, 40).to(torch.float32).mul_(2.0**-24)


class RowUniforms:
    """The uniforms of a call's rows, computed `block` steps at a time (a dozen int64 ops per block
    instead of per step). keys: (R,) int64 by original row."""

    def __init__(self, keys: torch.Tensor, block: int = 64):
        self.keys, self.block = keys, block
        self.first, self.table = -block, None  # (block, R), made when first asked (the kernel reads keys)

    def at(self, step: int, rows: torch.Tensor | None = None) -> torch.Tensor:
        """(B,) float32: the uniforms at `step` of original rows `rows` (None: every row)."""
        if self.table is None or not self.first <= step < self.first + self.block:
            self.first, self.table = step, uniforms(self.keys, step, self.block).T.contiguous()
        column = self.table[step - self.first]
        return column if rows is None else column[rows]


def row_keys(seeds: tuple[int, ...], copies: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The keys of P prompts' rows, each prompt `copies` times in a row: (P * copies,) int64, row
    p * copies + j keyed by (seeds[p], j). In Python: a few µs per row, no torch op per stage."""
    keys = [signed64(mix64(s + GOLDEN64 * (j + 1))) for s in seeds for j in range(copies)]
    return torch.tensor(keys, dtype=torch.int64, device=device)
