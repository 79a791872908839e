"""Rows kept in the prompt KV cache and the reused static-cache memory: a step that ended at a
stop string leaves its K/V so that prompt + step prefills one token, sharing the prompt's tensors
(eager step) or the prompt's full blocks (compiled step),
and decodes exactly what a fresh prefill would (on the compiled step and the eager one); Workspace hands out the same memory again."""

import threading

import torch

from ponder.gen.hf import HFGenerator
from ponder.gen.prefix_cache import BlockEntry, _key
from ponder.gen.workspace import Workspace
from ponder.types import SamplingParams

STOPS = tuple("0123456789+-*=")  # a random model's rows end at one of these within a few tokens


def _gens(llama):
    model, tok = llama
    cached, fresh = HFGenerator.from_model(model, tok), HFGenerator.from_model(model, tok)
    fresh.prefix_cache, fresh.workspace = None, None
    return cached, fresh


def test_next_step_prefills_one_token_and_decodes_as_fresh(llama, decode_step):
    cached, fresh = _gens(llama)
    step = SamplingParams(temperature=0, max_tokens=8, n=2, stop=STOPS)
    prompts = [cached.render(q) for q in ["1+2=", "12*34-5=", "what is 99-98?"]]
    first = cached.generate(prompts, step)
    assert [[c.token_ids for c in g] for g in first] == [
        [c.token_ids for c in g] for g in fresh.generate(prompts, step)
    ]
    stopped = [
        (p, c) for p, g in zip(prompts, first) for c in g[:1] if c.finish_reason == "stop" and len(c.token_ids) > 1
    ]
    assert stopped, "no row ended at a stop string; pick other stops"
    longer = [p + c.text for p, c in stopped]
    want = sum(len(cached._encode([t])[0]) - 1 for t in longer)  # all but the last token of each
    before = cached.prefix_cache.reused_tokens
    ours = cached.generate(longer, SamplingParams(temperature=0, max_tokens=12, n=2))
    assert cached.prefix_cache.reused_tokens - before == want
    ref = fresh.generate(longer, SamplingParams(temperature=0, max_tokens=12, n=2))
    assert [[c.token_ids for c in g] for g in ours] == [[c.token_ids for c in g] for g in ref]
    for a, b in zip(ours, ref):
        assert torch.allclose(torch.tensor(a[0].logprobs), torch.tensor(b[0].logprobs), atol=1e-4)


def test_rows_share_their_prompts_tensors(llama, decode_step):
    cached, _ = _gens(llama)
    long = "+".join(str(i) for i in range(12)) + "="  # two full blocks and more
    prompts = [cached.render(q) for q in ["1+2=", "12*34-5=", "what is 99-98?", long]]
    cached.generate(prompts, SamplingParams(temperature=1.0, max_tokens=8, n=4, stop=STOPS, seed=0))
    encoded = cached._encode(prompts)
    entries = cached.prefix_cache.entries
    heads = {len(ids): entries[_key(ids)] for ids in encoded}
    rows = [(len(key) // 8, e) for key, e in entries.items() if len(key) // 8 not in heads]
    assert rows, "no row was kept"
    shared = 0
    for n, e in rows:
        if decode_step == "eager":
            head = next(h.own for h in heads.values() if h.own is e.parent)  # the very tensors, not a copy
            assert e.own[0][0].shape[1] + head[0][0].shape[1] == n
            continue
        assert isinstance(e, BlockEntry) and e.n == n  # the kernel's blocks: the prompt's full ones, then its own
        head = next(h for h in heads.values() if e.n - e.own == h.n)
        full = head.n // 16
        assert torch.equal(e.blocks[:full], head.blocks[:full]) and not set(e.blocks[full:].tolist()) & set(
            head.blocks.tolist()
        )
        assert bool((e.pool.refs[e.blocks] > 0).all())  # held after the call let go of its own
        shared += full
    assert decode_step == "eager" or shared > 0


def test_no_stop_strings_keep_no_rows(llama):
    cached, _ = _gens(llama)
    prompt = cached.render("1+2=")
    cached.generate([prompt], SamplingParams(temperature=0, max_tokens=6, n=2))
    assert len(cached.prefix_cache.entries) == 1  # the prompt only


def test_workspace_reuses_and_grows_per_thread():
    ws, like = Workspace(), torch.zeros(1)
    a = ws.take(0, (2, 3, 4), like)
    b = ws.take(0, (2, 2, 4), like)
    assert b.data_ptr() == a.data_ptr() and b.shape == (2, 2, 4)
    c = ws.take(0, (5, 10), like)
    assert c.numel() == 50 and ws.take(0, (40,), like).data_ptr() == c.data_ptr()
    d = ws.take(0, (60,), like)  # grows by half at least: room for 75
    assert ws.take(0, (75,), like).data_ptr() == d.data_ptr()
    assert ws.take(1, (2, 3, 4), like).data_ptr() != d.data_ptr()
    other = []
    t = threading.Thread(target=lambda: other.append(ws.take(0, (2, 3, 4), like).data_ptr()))
    t.start()
    t.join()
    assert other[0] != d.data_ptr()


def test_workspace_keeps_nothing_past_its_cap():
    ws, like = Workspace(max_bytes=400), torch.zeros(1)
    small = ws.take(0, (10,), like)  # 40 bytes, 60 with room to grow: kept
    assert ws.take(0, (10,), like).data_ptr() == small.data_ptr()
    big = ws.take(1, (200,), like)  # 800 bytes: fresh, not kept
    assert big.shape == (200,)
    assert 1 not in ws._buffers()
