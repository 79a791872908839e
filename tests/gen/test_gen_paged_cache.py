"""The kernel's paged KV cache (gen/kernels/batch.py, blocks.py): the copies of a prompt share its full
blocks and own everything after them, a prompt stored in the prefix cache lends its blocks to a
later prompt that extends it (no copy, and bit for bit what a fresh prefill gives), every block a
call held goes back to the pool, rows carry no padding (a row's logits do not depend on how long
the other prompts of its call are). That copies which sample different tokens after a shared,
partly filled block do not see each other's is test_gen_kernel_prefill's sampled kernel-vs-eager
equality (n=4 rows per prompt)."""

import torch

from ponder.gen.fastllama import FastLlama
from ponder.gen.hf import HFGenerator
from ponder.gen.prefix_cache import BlockEntry
from ponder.gen.workspace import Workspace
from ponder.types import SamplingParams

LONG = "+".join(str(i) for i in range(16)) + "="  # ~45 tokens: two full blocks and a partial one


def test_rows_share_their_prompts_full_blocks_and_own_the_rest(llama, set_decode_step):
    set_decode_step("kernel")
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    ids, mask = gen._left_pad(gen._encode([gen.render(q) for q in ["1+2=", LONG]]))
    dec = FastLlama(model, workspace=Workspace())
    with torch.inference_mode():
        dec.start(ids, mask, 3, 20)
    batch, lengths = dec.batch, mask.sum(1).tolist()
    prompt_blocks = set(batch.prompt_table[1].tolist())
    owned = []
    for p, n in enumerate(lengths):
        full, need = n // 16, -(-(n + 20) // 16)
        rows = batch.table[3 * p : 3 * p + 3]
        assert all(r[:full].tolist() == batch.prompt_table[p, :full].tolist() for r in rows)
        owned += [b for r in rows for b in r[full:need].tolist()]
    assert len(set(owned)) == len(owned) and not set(owned) & prompt_blocks
    assert batch.pool.in_use == len(owned) + sum(-(-n // 16) for n in lengths)
    dec.finish()
    assert batch.pool.in_use == 0  # no prefix cache: every block went back


def test_a_stored_prompt_lends_its_blocks_and_decodes_bit_for_bit(llama, set_decode_step):
    set_decode_step("kernel")
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    gen.generate([gen.render(LONG)], SamplingParams(temperature=0, max_tokens=3))
    (entry,) = gen.prefix_cache.entries.values()
    assert isinstance(entry, BlockEntry) and entry.n > 32
    longer = gen._encode([gen.render(LONG) + "7+8"])
    ids, mask = gen._left_pad(longer)
    outs = []
    for cache in (gen.prefix_cache, None):
        dec = FastLlama(model, prefix_cache=cache, workspace=gen.workspace)
        with torch.inference_mode():
            logits = [dec.start(ids, mask, 2, 6)]
            for _ in range(5):
                logits.append(dec.step(logits[-1].argmax(-1)))
        if cache is not None:  # the stored full blocks themselves, not copies
            assert dec.batch.prompt_table[0, : entry.n // 16].tolist() == entry.blocks[: entry.n // 16].tolist()
        dec.finish()
        outs.append(logits)
    for a, b in zip(*outs):
        assert torch.equal(a, b)
    held = torch.cat([e.blocks for e in gen.prefix_cache.entries.values()]).unique()
    assert entry.pool.in_use == held.numel()  # the calls let go of everything the cache does not hold


def _steps(model, gen, questions, copies=2, steps=12):
    ids, mask = gen._left_pad(gen._encode([gen.render(q) for q in questions]))
    dec = FastLlama(model)
    out = []
    with torch.inference_mode():
        logits = dec.start(ids, mask, copies, steps + 1)
        assert dec.batch is not None
        for _ in range(steps):
            out.append(logits)
            logits = dec.step(logits.argmax(-1))
    return out, dec


def test_a_rows_logits_do_not_depend_on_the_other_prompts(llama, set_decode_step):
    set_decode_step("kernel")
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    alone, _ = _steps(model, gen, ["1+2="])
    together, dec = _steps(model, gen, ["1+2=", LONG])  # left padding would shift "1+2=" right
    for a, b in zip(alone, together):
        assert torch.equal(a, b[:2])  # bit for bit: the same arithmetic in the same order
    n = int(dec.batch.prompt_len[2])
    assert n > 32 and dec.batch.table[2, : n // 16].tolist() == dec.batch.table[3, : n // 16].tolist()


def test_a_cache_past_the_workspace_budget_is_not_kept(llama, set_decode_step):
    set_decode_step("kernel")
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    ids, mask = gen._left_pad(gen._encode([gen.render(LONG)]))
    pools = {}
    for max_bytes in (1 << 30, 1):
        ws = Workspace(max_bytes=max_bytes)
        for _ in range(2):
            dec = FastLlama(model, workspace=ws)
            with torch.inference_mode():
                dec.start(ids, mask, 2, 8)
            dec.finish()
            pools.setdefault(max_bytes, []).append(dec.batch.pool)
    assert pools[1 << 30][0] is pools[1 << 30][1]  # kept and reused
    assert pools[1][0] is not pools[1][1]  # each call its own
