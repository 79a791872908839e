"""The kernels' block pool over many calls (issue 16, session 6 review): no block leaks over 200
calls under a prefix cache that must evict, a call that raises mid-way gives its blocks back and
leaves the pool usable, and Python threads sharing one generator (one pool each, one prefix cache
whose entries point into the others' pools) sample what they sample alone."""

import random
import threading

import pytest
import torch

from ponder.gen.hf import HFGenerator
from ponder.types import SamplingParams
from tests.gen.test_gen_decode_differential import check_pool, kernel_available, random_model, random_text


def lifecycle_model():
    rng = random.Random(7)
    return random_model(rng)


@pytest.mark.skipif(not kernel_available(), reason="no compiled kernel here")
def test_no_block_leaks_over_200_calls_under_a_small_prefix_budget():
    """200 calls of prompts extending each other under a prefix cache that must evict: after each
    the pool holds only the entries' blocks, and the pool stops growing."""
    torch.set_num_threads(1)
    model, tok = lifecycle_model()
    gen = HFGenerator.from_model(model, tok)
    gen.prefix_cache.max_tokens = 300
    rng = random.Random(1)
    base = [random_text(rng, rng.randint(1, 60)) for _ in range(5)]
    sizes = []
    for i in range(200):
        prompts = [rng.choice(base) + random_text(rng, rng.randint(0, 20)) for _ in range(rng.randint(1, 3))]
        params = SamplingParams(
            n=rng.randint(1, 3), temperature=0.8, max_tokens=rng.randint(1, 12), seed=i, stop=("+",)
        )
        gen.generate(prompts, params)
        check_pool(gen)
        (pool,) = gen.workspace._local.kept.values()
        sizes.append(pool.capacity)
    assert gen.prefix_cache.tokens <= 300 and sizes[-1] == sizes[100]


class Boom(Exception):
    pass


@pytest.mark.skipif(not kernel_available(), reason="no compiled kernel here")
def test_a_call_that_raises_mid_way_leaves_the_pool_usable(monkeypatch):
    """A stop checker that throws on its 5th use: the call's blocks go back, the next calls sample
    what a fresh generator samples."""
    torch.set_num_threads(1)
    model, tok = lifecycle_model()
    gen = HFGenerator.from_model(model, tok)
    prompts = ["1+2=" * 5, "3*4=" * 9]
    params = SamplingParams(n=3, temperature=0.8, max_tokens=20, seed=5, stop=("=",))
    real = gen._stop_checker

    def failing(stops):
        checker = real(stops)
        uses = iter(range(10**6))

        def ends_here(generated):
            if next(uses) == 4:
                raise Boom()
            return type(checker).ends_here(checker, generated)

        checker.ends_here = ends_here
        checker.can_end[:] = True  # every token is checked
        return checker

    monkeypatch.setattr(gen, "_stop_checker", failing)
    with pytest.raises(Boom):
        gen.generate(prompts, params)
    check_pool(gen)
    monkeypatch.setattr(gen, "_stop_checker", real)
    again = gen.generate(prompts, params)
    check_pool(gen)
    fresh = HFGenerator.from_model(model, tok).generate(prompts, params)
    assert [[c.token_ids for c in g] for g in again] == [[c.token_ids for c in g] for g in fresh]


@pytest.mark.skipif(not kernel_available(), reason="no compiled kernel here")
def test_python_threads_sharing_one_generator_sample_what_one_thread_does():
    """Four Python threads call one generator at once (each thread its own block pool, one shared
    prefix cache whose entries point into the others' pools): every call returns what it returns
    alone, and the pools end up holding exactly the entries' blocks."""
    torch.set_num_threads(1)
    model, tok = lifecycle_model()
    rng = random.Random(3)
    base = [random_text(rng, rng.randint(10, 70)) for _ in range(3)]
    jobs = [
        (
            [rng.choice(base) + random_text(rng, rng.randint(0, 9)) for _ in range(2)],
            SamplingParams(n=2, temperature=0.8, max_tokens=8, seed=j, stop=("+",)),
        )
        for j in range(24)
    ]
    want = [HFGenerator.from_model(model, tok).generate(p, s) for p, s in jobs]
    gen = HFGenerator.from_model(model, tok)
    got, errors = [None] * len(jobs), []

    def work(k):
        try:
            for j in range(k, len(jobs), 4):
                got[j] = gen.generate(*jobs[j])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert [[[c.token_ids for c in g] for g in o] for o in got] == [[[c.token_ids for c in g] for g in o] for o in want]


@pytest.mark.skipif(not kernel_available(), reason="no compiled kernel here")
def test_an_entry_found_by_one_thread_survives_its_eviction_by_another(monkeypatch):
    """Thread B finds prompt P's entry (blocks of thread A's pool); before B reads it, A's calls
    evict the entry and write other K/V into the freed blocks. B must still decode P + more as a
    generator without a prefix cache does: the entry's blocks are held from the lookup on."""
    import ponder.gen.fastllama as fastllama

    torch.set_num_threads(1)
    model, tok = random_model(random.Random(7))
    rng = random.Random(5)
    p, q = random_text(rng, 70), random_text(rng, 70)
    params = SamplingParams(n=2, temperature=0.8, max_tokens=6, seed=1)
    ref = HFGenerator.from_model(model, tok)
    ref.prefix_cache = None
    want = ref.generate([p + "12"], params)
    gen = HFGenerator.from_model(model, tok)
    gen.generate([p], params)  # A stores P's blocks
    real_pool, go, done = fastllama.call_pool, threading.Event(), threading.Event()

    def call_pool(*args):  # in B, between the lookup and reading the entry: A evicts and reuses
        if threading.current_thread() is not threading.main_thread():
            go.set()
            done.wait(60)
        return real_pool(*args)

    monkeypatch.setattr(fastllama, "call_pool", call_pool)
    got = []
    b = threading.Thread(target=lambda: got.append(gen.generate([p + "12"], params)))
    b.start()
    assert go.wait(60)
    gen.prefix_cache.clear()
    gen.generate([q], params)  # A's next call takes the freed blocks
    done.set()
    b.join(60)
    assert [c.token_ids for c in got[0][0]] == [c.token_ids for c in want[0]]


@pytest.mark.skipif(not kernel_available(), reason="no compiled kernel here")
def test_calls_past_the_workspace_budget_store_tensors_not_their_pools():
    """A call whose blocks do not fit the workspace gets a pool of its own; the prefix cache must
    then keep its prompts' K/V as tensors (an entry holding blocks kept the whole call's pool alive:
    20 calls pinned 1,840 blocks for 240 used), and a later prompt still reuses them exactly."""
    from ponder.gen.prefix_cache import BlockEntry

    torch.set_num_threads(1)
    model, tok = random_model(random.Random(7))
    gen = HFGenerator.from_model(model, tok)
    gen.workspace.max_bytes = 1
    rng = random.Random(0)
    first = [random_text(rng, 40) for _ in range(3)]
    params = SamplingParams(n=3, temperature=0.8, max_tokens=30, seed=2, stop=("+",))
    gen.generate(first, params)
    assert gen.prefix_cache.entries and not any(isinstance(e, BlockEntry) for e in gen.prefix_cache.entries.values())
    longer = [p + "1+1=" for p in first]
    hits = gen.prefix_cache.hits
    got = gen.generate(longer, params)
    assert gen.prefix_cache.hits > hits
    ref = HFGenerator.from_model(model, tok)
    ref.prefix_cache = None
    assert [[c.token_ids for c in g] for g in got] == [[c.token_ids for c in g] for g in ref.generate(longer, params)]


@pytest.mark.skipif(not kernel_available(), reason="no compiled kernel here")
def test_a_decoder_steps_on_after_another_grew_their_shared_pool():
    """Two decoders on one workspace in one thread, interleaved: the second grows the pool the
    first decodes in. The first's steps equal an undisturbed run's (before the fix its plan kept
    pointers into the freed tensors: heap corruption, 'malloc_consolidate(): invalid chunk size')."""
    from ponder.gen.fastllama import FastLlama
    from ponder.gen.workspace import Workspace

    torch.set_num_threads(1)
    model, tok = random_model(random.Random(7))
    gen = HFGenerator.from_model(model, tok)
    a_ids, a_mask = gen._left_pad(gen._encode(["1+2=" * 5]))
    b_ids, b_mask = gen._left_pad(gen._encode(["3*4=" * 60] * 4))

    def run(dec, ids, mask, steps, copies):
        out = [dec.start(ids, mask, copies, steps + 1)]
        for _ in range(steps):
            out.append(dec.step(out[-1].argmax(-1)))
        return out

    with torch.inference_mode():
        want = run(FastLlama(model, workspace=Workspace()), a_ids, a_mask, 6, 2)
        ws = Workspace()
        a = FastLlama(model, workspace=ws)
        got = [a.start(a_ids, a_mask, 2, 7)]
        got.append(a.step(got[-1].argmax(-1)))
        run(FastLlama(model, workspace=ws), b_ids, b_mask, 30, 4)
        for _ in range(5):
            got.append(a.step(got[-1].argmax(-1)))
    assert all(torch.equal(x, y) for x, y in zip(got, want))
