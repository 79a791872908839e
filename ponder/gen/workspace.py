"""Memory kept across generate calls for the lean decoder's static KV cache.

A fresh multi-megabyte tensor costs a page fault per 4 KB page the first time it is written
(measured here: filling a 50 MB cache took 9-11 ms fresh against 2 ms reused), and a batched
step-level search allocates one such cache per layer and per call. A Workspace keeps one buffer
per slot (a layer's cache), grown when a call needs more, and hands out views of it, so later
calls write to pages already mapped. Buffers are per thread (a server runs searches in threads),
CPU only (CUDA's caching allocator already reuses memory), and at most MAX_BYTES per thread (a big
model's cache is not held between calls).
The contents of a view are garbage, like `torch.empty`; a view is valid until the same slot is
taken again. A buffer that must grow grows by half at least (a search's prompts lengthen every
depth). Left out: giving memory back (it is held while the generator lives).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Hashable

import torch

GROWTH = 1.5  # a buffer that must grow grows to at least this many times its size
MAX_BYTES = 1 << 30  # kept per thread at most; a bigger cache is allocated fresh and freed after its call


class Workspace:
    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._local = threading.local()

    def _buffers(self) -> dict[Hashable, torch.Tensor | None]:
        if not hasattr(self._local, "buffers"):
            self._local.buffers = {}
        return self._local.buffers

    def keep(self, slot: Hashable, make: Callable[[], object]) -> object:
        """This thread's object for slot, made by make() the first time it is asked for (the
        compiled kernels' block pool, which checks max_bytes itself)."""
        kept = self._local.__dict__.setdefault("kept", {})
        if slot not in kept:
            kept[slot] = make()
        return kept[slot]

    def take(self, slot: Hashable, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """An uninitialised tensor of `shape` with like's dtype and device, a view of slot's buffer
        (a fresh tensor, not kept, off CPU or when keeping it would pass max_bytes)."""
        buffers = self._buffers()
        numel = math.prod(shape)
        buf = buffers.get(slot)
        if buf is None or buf.numel() < numel or buf.dtype != like.dtype or buf.device != like.device:
            kept = sum(b.numel() * b.element_size() for s, b in buffers.items() if b is not None and s != slot)
            if like.device.type != "cpu" or kept + numel * GROWTH * like.element_size() > self.max_bytes:
                return torch.empty(shape, dtype=like.dtype, device=like.device)
            grown = numel if buf is None else max(numel, int(buf.numel() * GROWTH))  # fewer regrowths
            buf = buffers[slot] = None  # the old buffer is freed before the new one is taken
            buf = buffers[slot] = torch.empty(grown, dtype=like.dtype, device=like.device)
        return buf[:numel].view(shape)
