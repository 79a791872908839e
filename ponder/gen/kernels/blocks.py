"""The compiled kernels' KV cache memory: a pool of blocks of 16 positions, kept across calls, so
the prefix cache can hold prompts and generated steps as blocks and a later call reuses them
without copying.

Per layer keys (capacity, Hkv, D, 16) and values (capacity, Hkv, 16, D). Every block has a count
of its holders (calls, prefix-cache entries) and goes back to the free list when the last lets go.
A block is written only while one call holds it alone (a prompt's prefill, a row's decoding);
once shared (a prompt's blocks read by its copies, a prefix-cache entry) it is only read, and a
row that writes after a shared, partly filled block writes to its own copy of it (batch.py).
Growing the pool copies it into bigger tensors; block ids stay valid. Pools are per thread
(gen/workspace.py): only the thread whose calls write a pool grows it, while others may read its
shared blocks (a prefix-cache entry made by another thread) or let go of them, under the pool's
lock. Left out: giving memory back, compaction.
"""

from __future__ import annotations

import threading

import torch

BLOCK = 16  # positions per block (one AVX-512 vector of keys), see decode.cpp
GROWTH = 1.5  # a pool that must grow grows to at least this many times its capacity
KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: K (Hkv, n, D), V (Hkv, n, D)


class BlockPool:
    @torch.inference_mode(False)
    def __init__(self, n_layers: int, Hkv: int, D: int, dtype: torch.dtype = torch.float32) -> None:
        self.n_layers, self.Hkv, self.D, self.dtype = n_layers, Hkv, D, dtype
        self.kt = [torch.empty(0, Hkv, D, BLOCK, dtype=dtype) for _ in range(n_layers)]
        self.v = [torch.empty(0, Hkv, BLOCK, D, dtype=dtype) for _ in range(n_layers)]
        self.refs = torch.zeros(0, dtype=torch.int32)  # holders per block
        self.free: list[int] = []  # a stack: the lowest free id last
        self.lock = threading.Lock()

    def fits(self, n_layers: int, Hkv: int, D: int, dtype: torch.dtype) -> bool:
        return (self.n_layers, self.Hkv, self.D, self.dtype) == (n_layers, Hkv, D, dtype)

    @property
    def capacity(self) -> int:
        return self.refs.shape[0]

    @property
    def in_use(self) -> int:
        return self.capacity - len(self.free)

    def alloc(self, n: int) -> torch.Tensor:
        """n free block ids (n,) int64, each now held once (by the caller)."""
        with self.lock:
            if len(self.free) < n:
                self._grow(max(self.capacity + n - len(self.free), int(self.capacity * GROWTH)))
            ids = self.free[len(self.free) - n :][::-1]
            del self.free[len(self.free) - n :]
            out = torch.tensor(ids, dtype=torch.int64)
            self.refs[out] = 1
            return out

    @torch.inference_mode(False)  # normal tensors: a later call may update them outside inference mode
    def _grow(self, capacity: int) -> None:
        old = self.capacity
        for store, shape in ((self.kt, (self.Hkv, self.D, BLOCK)), (self.v, (self.Hkv, BLOCK, self.D))):
            for i, t in enumerate(store):
                bigger = torch.empty(capacity, *shape, dtype=self.dtype)
                bigger[:old] = t
                store[i] = bigger
        self.refs = torch.cat([self.refs, self.refs.new_zeros(capacity - old)])
        self.free = list(range(capacity - 1, old - 1, -1)) + self.free

    def retain(self, ids: torch.Tensor) -> None:
        """One more holder for each of ids (repeats count once each)."""
        with self.lock:
            self.refs.index_add_(0, ids, torch.ones_like(ids, dtype=torch.int32))

    def release(self, ids: torch.Tensor) -> None:
        """One holder fewer for each of ids; blocks nobody holds go back to the free list."""
        if ids.numel() == 0:
            return
        with self.lock:
            self.refs.index_add_(0, ids, torch.full_like(ids, -1, dtype=torch.int32))
            left = self.refs[ids]
            if bool((left < 0).any()):
                raise RuntimeError("a KV block was released more often than it was held")
            self.free.extend(ids[left == 0].unique().tolist())

    def read(self, blocks: torch.Tensor, c0: int, c1: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer K/V of positions c0..c1-1 of the block sequence `blocks` (nb,): each
        (Hkv, c1 - c0, D), copies (keys unblocked)."""
        kt, v = self.kt, self.v  # this thread's view: another thread may swap in grown tensors
        nb = blocks.shape[0]
        out = []
        for k_i, v_i in zip(kt, v):
            k = k_i[blocks].permute(1, 0, 3, 2).reshape(self.Hkv, nb * BLOCK, self.D)
            vv = v_i[blocks].transpose(0, 1).reshape(self.Hkv, nb * BLOCK, self.D)
            out.append((k[:, c0:c1], vv[:, c0:c1]))
        return out


def call_pool(workspace, shape: tuple[int, int, int], blocks: int) -> BlockPool:
    """The pool for a call needing up to `blocks` blocks of shape (n_layers, Hkv, D): this thread's,
    kept across calls in `workspace` (gen.workspace.Workspace), or one of the call's own when there
    is no workspace or keeping `blocks` more would pass its max_bytes (a big model's cache is not
    kept, as Workspace.take does)."""
    if workspace is None:
        return BlockPool(*shape)
    pool = workspace.keep(("kv blocks", *shape), lambda: BlockPool(*shape))
    block_bytes = 2 * shape[0] * shape[1] * shape[2] * BLOCK * 4  # fp32
    return pool if (pool.in_use + blocks) * block_bytes <= workspace.max_bytes else BlockPool(*shape)
