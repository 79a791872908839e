"""The kernel's paged KV cache (gen/kernels/batch.py): the copies of a prompt share its full blocks
and own everything after them, rows carry no padding (a row's logits do not depend on how long
the other prompts of its call are). That copies which sample different tokens after a shared,
partly filled block do not see each other's is test_gen_kernel_prefill's sampled kernel-vs-eager
equality (n=4 rows per prompt)."""

import torch

from ponder.gen.fastllama import FastLlama
from ponder.gen.hf import HFGenerator
from ponder.gen.kernels.batch import block_tables

LONG = "+".join(str(i) for i in range(16)) + "="  # ~45 tokens: two full blocks and a partial one


def test_block_tables_share_full_blocks_and_own_the_rest():
    table, n_blocks = block_tables(torch.tensor([35, 16, 5]), copies=3, max_new=20)
    # prompt 0: 2 full blocks shared, then ceil(55 / 16) - 2 = 2 own; prompt 1: 1 shared, 2 own;
    # prompt 2: none shared, 2 own
    assert n_blocks == (2 + 1) + 3 * (2 + 2 + 2)
    rows = table.tolist()
    for p, full, need in [(0, 2, 4), (1, 1, 3), (2, 0, 2)]:
        mine = rows[3 * p : 3 * p + 3]
        assert all(r[:full] == mine[0][:full] for r in mine)
        owned = [b for r in mine for b in r[full:need]]
        assert len(set(owned)) == len(owned) == 3 * (need - full)
    used = [b for r, need in zip(rows, [4] * 3 + [3] * 3 + [2] * 3) for b in r[:need]]
    assert set(used) == set(range(n_blocks))


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
