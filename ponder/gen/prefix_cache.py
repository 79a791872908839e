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

`RowSaver` also stores generated rows: a row that ended at a stop string leaves its prompt plus all
but its last token (the last was never fed back, so it has no K/V yet), so the next call's prompt
`prompt + completion` (step-level search's next depth) prefills one token instead of the whole
step. A row's entry holds only its generated tokens' K/V and shares its prompt's tensors (the n
samples of a prompt do not copy it n times; a lookup concatenates the two); the token budget
counts each entry's own tokens, so a row can keep an evicted prompt's tensors alive a while
longer. A generated token's K/V comes from the decode step rather than a prefill: the same
arithmetic in another summation order. Left out: rows that ended at EOS or at the token limit (a
search does not extend them).

With the compiled kernels an entry is a `BlockEntry`: the ids of the blocks that hold its K/V in
the kernels' block pool (gen/kernels/blocks.py), held while the entry lives. A row's entry then
holds its prompt's full blocks and its own, and a later call points its rows at the stored blocks
instead of copying them (only a partly filled last block is copied). `kv()` reads any entry out as
tensors (the eager decoder, or a pool another thread writes).
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import torch

KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: K (Hkv, T, D), V (Hkv, T, D)


WIDTH = 8  # bytes per token id in a key


def _key(ids: list[int]) -> bytes:
    return array("q", ids).tobytes()


@dataclass
class Entry:
    own: KV  # the K/V of this entry's own positions
    parent: KV | None = None  # the positions before them (a prompt's entry), shared, or None

    def kv(self) -> KV:
        if self.parent is None:
            return self.own
        return [(torch.cat([pk, k], 1), torch.cat([pv, v], 1)) for (pk, pv), (k, v) in zip(self.parent, self.own)]

    @property
    def cost(self) -> int:
        return self.own[0][0].shape[1]

    def release(self) -> None:
        """Let go of what the entry holds (nothing for tensors)."""


@dataclass
class BlockEntry:
    pool: object  # a gen.kernels.blocks.BlockPool
    blocks: torch.Tensor  # (ceil(n / 16),) int64: the blocks holding positions 0..n-1, in order
    n: int  # positions
    own: int  # positions counted against the token budget (a row's: its generated ones)
    parent = None

    def kv(self) -> KV:
        return self.pool.read(self.blocks, 0, self.n)

    @property
    def cost(self) -> int:
        return self.own

    def release(self) -> None:
        self.pool.release(self.blocks)


class PrefixCache:
    def __init__(self, max_tokens: int = 32768):
        self.max_tokens = max_tokens
        self.entries: OrderedDict[bytes, Entry] = OrderedDict()
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
        for entry in self.entries.values():
            entry.release()
        self.entries.clear()
        self.lengths.clear()
        self.tokens = 0

    def lookup(self, ids: list[int]) -> tuple[int, KV | None]:
        """(n, K/V of ids[:n]) for the longest stored prefix with n < len(ids), else (0, None)."""
        n, entry = self.lookup_entry(ids)
        return n, None if entry is None else entry.kv()

    def lookup_entry(self, ids: list[int]) -> tuple[int, Entry | BlockEntry | None]:
        """(n, the entry of ids[:n]) for the longest stored prefix with n < len(ids), else (0, None)."""
        self.lookups += 1
        blob = _key(ids)
        for n in sorted((n for n in self.lengths if n < len(ids)), reverse=True):
            entry = self.entries.get(blob[: n * WIDTH])
            if entry is not None:
                self.entries.move_to_end(blob[: n * WIDTH])
                self.hits += 1
                self.reused_tokens += n
                return n, entry
        return 0, None

    def wants(self, ids: list[int]) -> bool:
        """Whether store(ids, ...) would keep something (it is new and fits)."""
        return len(ids) <= self.max_tokens and _key(ids) not in self.entries

    def whole(self, ids: list[int]) -> KV | None:
        """The stored K/V of exactly ids when it is one piece of tensors (shareable as a parent), else None."""
        entry = self.entries.get(_key(ids))
        return entry.own if isinstance(entry, Entry) and entry.parent is None else None

    def store(self, ids: list[int], kv: KV | BlockEntry, parent: KV | None = None) -> None:
        """Remember ids' K/V: kv for all of ids, or, with `parent` (the K/V of a prefix of ids),
        kv for the positions after it; or a BlockEntry of all of ids (held from now on)."""
        if not self.wants(ids):
            return
        if isinstance(kv, BlockEntry):
            kv.pool.retain(kv.blocks)
        entry = kv if isinstance(kv, BlockEntry) else Entry(kv, parent)
        self.entries[_key(ids)] = entry
        self.lengths[len(ids)] = self.lengths.get(len(ids), 0) + 1
        self.tokens += entry.cost
        while self.tokens > self.max_tokens:
            key, old = self.entries.popitem(last=False)
            old.release()
            self._forget(len(key) // WIDTH, old.cost)

    def _forget(self, n: int, cost: int) -> None:
        self.tokens -= cost
        self.lengths[n] -= 1
        if not self.lengths[n]:
            del self.lengths[n]


class RowSaver:
    """Stores rows of one sampling call that ended at a stop string (see the module docstring).
    prompts[p] is prompt p's real token ids; its `copies` rows are p * copies ... (p + 1) * copies - 1.
    The decoder gives a batch row's K/V with `row_kv(j, generated, prompt)` (or None), or its
    blocks with `row_entry(j, generated)` (or None)."""

    def __init__(self, cache: PrefixCache, prompts: list[list[int]], copies: int):
        self.cache, self.prompts, self.copies = cache, prompts, copies
        self.saved = 0

    def save(self, decoder, j: int, row: int, tokens: list[int]) -> None:
        """Batch row j (original row `row`) generated `tokens`, the last one a stop string's end."""
        if len(tokens) < 2:
            return
        prompt = self.prompts[row // self.copies]
        ids = prompt + tokens[:-1]
        if not self.cache.wants(ids):
            return
        blocks = getattr(decoder, "row_entry", lambda j, n: None)(j, len(tokens) - 1)
        if blocks is not None:
            self.cache.store(ids, blocks)
            self.saved += 1
            return
        parent = self.cache.whole(prompt)
        kv = decoder.row_kv(j, len(tokens) - 1, prompt=parent is None)
        if kv is not None:  # None: the decoder cannot give it
            self.cache.store(ids, kv, parent)
            self.saved += 1


def lookup_prompts(cache: PrefixCache | None, seqs: list[list[int]]) -> list[tuple[int, Entry | BlockEntry | None]]:
    """Per prompt (real token ids) the longest stored prefix: (n, its entry) or (0, None); [] when
    there is no cache or no prompt."""
    return [cache.lookup_entry(s) for s in seqs] if seqs and cache is not None else []


def reuse_prefixes(
    found: list[tuple[int, Entry | BlockEntry | None]], ids: torch.Tensor, mask: torch.Tensor, seqs: list[list[int]]
):
    """Left-padded prompts ids/mask (P, T) with real token lists `seqs` and their `found` prefixes
    (lookup_prompts) -> (suffix ids (P, S), suffix mask, done (P, C) bool: reused cache columns,
    per-layer prefix K/V (P, Hkv, C, D) with zeros where a prompt reuses fewer columns, or None).
    Rows are right-aligned in the C reused columns."""
    C = max((n for n, _ in found), default=0)
    if C == 0:
        return ids, mask, mask.new_zeros(ids.shape[0], 0), None
    found = [(n, None if entry is None else entry.kv()) for n, entry in found]
    rest = [s[n:] for s, (n, _) in zip(seqs, found)]
    S = max(len(r) for r in rest)
    ids2 = ids.new_full((len(rest), S), 0)
    mask2 = mask.new_zeros(len(rest), S)
    done = mask.new_zeros(len(rest), C)
    for i, r in enumerate(rest):
        ids2[i, S - len(r) :] = torch.tensor(r, dtype=ids.dtype)
        mask2[i, S - len(r) :] = True
        done[i, C - found[i][0] :] = True
    prefix = []
    for layer in range(len(next(kv for n, kv in found if n))):
        k0 = next(kv[layer][0] for n, kv in found if n)
        pk = k0.new_zeros(len(rest), k0.shape[0], C, k0.shape[-1])
        pv = torch.zeros_like(pk)
        for i, (n, kv) in enumerate(found):
            if n:
                pk[i, :, C - n :], pv[i, :, C - n :] = kv[layer]
        prefix.append((pk, pv))
    return ids2, mask2, done, prefix


def store_prompts(cache: PrefixCache, seqs: list[list[int]], prompt_kv: Callable[[], list[KV | BlockEntry]]) -> None:
    """Remember every prompt's K/V; prompt_kv() gives each prompt's, tensors or blocks (called only
    when the cache wants one of them)."""
    if not any(cache.wants(s) for s in seqs):
        return
    for s, kv in zip(seqs, prompt_kv()):
        cache.store(s, kv)
