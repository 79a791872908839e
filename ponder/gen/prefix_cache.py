"""A prompt KV cache for the lean decoder: the keys and values of prompts already prefilled, so a
later prompt that extends one (step-level search: the same question plus one more step) prefills
only its new tokens.

Entries are whole prompts (token ids -> per-layer K and V of every position), kept least recently
used first out under a token budget. A lookup finds the longest stored prompt that is a proper
prefix of (or equal to all but the last token of) the new one, by hashing the prompt's byte
prefixes at the lengths stored. Entries are valid only for the weights they were computed with:
the cache remembers the parameters' in-place version counters and empties itself when any moved
(an optimizer step between calls). Causal attention makes a prefix's K/V independent of what
follows, so reuse is exact up to floating-point summation order.
Left out: sharing pages between entries (each stores its own copy), generated tokens' K/V.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict

import torch

KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: K (Hkv, T, D), V (Hkv, T, D)


WIDTH = 8  # bytes per token id in a key


def _key(ids: list[int]) -> bytes:
    return array("q", ids).tobytes()


class PrefixCache:
    def __init__(self, max_tokens: int = 32768):
        self.max_tokens = max_tokens
        self.entries: OrderedDict[bytes, KV] = OrderedDict()
        self.lengths: dict[int, int] = {}  # stored prompt length -> how many entries have it
        self.tokens = 0
        self.version: tuple[int, ...] | None = None
        self.hits = self.reused_tokens = self.lookups = 0

    def check_weights(self, model) -> None:
        """Empty the cache when any parameter changed in place since the entries were made."""
        version = tuple(p._version for p in model.parameters())
        if version != self.version:
            self.clear()
            self.version = version

    def clear(self) -> None:
        self.entries.clear()
        self.lengths.clear()
        self.tokens = 0

    def lookup(self, ids: list[int]) -> tuple[int, KV | None]:
        """(n, K/V of ids[:n]) for the longest stored prefix with n < len(ids), else (0, None)."""
        self.lookups += 1
        blob = _key(ids)
        for n in sorted((n for n in self.lengths if n < len(ids)), reverse=True):
            kv = self.entries.get(blob[: n * WIDTH])
            if kv is not None:
                self.entries.move_to_end(blob[: n * WIDTH])
                self.hits += 1
                self.reused_tokens += n
                return n, kv
        return 0, None

    def store(self, ids: list[int], kv: KV) -> None:
        key = _key(ids)
        if key in self.entries or len(ids) > self.max_tokens:
            return
        self.entries[key] = kv
        self.lengths[len(ids)] = self.lengths.get(len(ids), 0) + 1
        self.tokens += len(ids)
        while self.tokens > self.max_tokens:
            old, _ = self.entries.popitem(last=False)
            self._forget(len(old) // WIDTH)

    def _forget(self, n: int) -> None:
        self.tokens -= n
        self.lengths[n] -= 1
        if not self.lengths[n]:
            del self.lengths[n]
