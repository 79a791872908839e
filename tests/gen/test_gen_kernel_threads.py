"""The compiled kernel on several threads (gen/kernels/pool.h): logits, greedy and seeded-sampled
tokens and logprobs are bit-identical to one thread (prefill in one and several groups, steps,
dropped rows, GQA and q/k/v biases) and the GEMM is on ragged shapes at 1-4 threads; one torch
thread keeps everything on the calling thread; the pool starts, stops and restarts; a forked
child gets a fresh pool; several decoders in Python threads at once give the serial results;
PONDER_KERNEL_THREADS sets the kernel's threads apart from torch's, and a bad value is refused;
the RoPE tables kept per model equal a fresh computation.
Every region is split (grain 1 FLOP) so that the small test models exercise the parallel paths."""

import os
import select
import threading

import pytest
import torch

from ponder.gen.fastllama import FastLlama
from ponder.gen.hf import HFGenerator
from ponder.gen.kernels import batch as kernel_batch
from ponder.gen.kernels import build
from ponder.gen.kernels.blocks import BlockPool
from ponder.gen.kernels.plan import panels, rope_tables
from ponder.types import PonderError, SamplingParams
from tests.gen.test_gen_decode_kernel import qwen2_with_biases

QUESTIONS = ["1+2=", "+".join(str(i) for i in range(14)) + "=", "7", "12*34-5=", "9*9="]
LONG = ["+".join(str(i) for i in range(40)) + "="]  # one prompt: its tokens must stay in one part, in order


@pytest.fixture
def lib(set_decode_step):
    """The kernel library with every parallel region split; torch back at one thread afterwards."""
    set_decode_step("kernel")
    lib = build.load()
    lib.ponder_set_grain(1)
    yield lib
    lib.ponder_set_grain(0)
    lib.ponder_pool_check(0)
    torch.set_num_threads(1)


@pytest.fixture
def nan_blocks(monkeypatch):
    """Every KV block a call takes starts full of NaN: a part that read K/V before another part
    wrote them would show (fresh memory could hold an earlier run's identical values)."""
    alloc = BlockPool.alloc

    def poisoned(self, n: int) -> torch.Tensor:
        ids = alloc(self, n)
        for t in (*self.kt, *self.v):
            t[ids] = float("nan")
        return ids

    monkeypatch.setattr(BlockPool, "alloc", poisoned)


def decode_logits(model, gen, questions: list[str], threads: int, steps: int = 12) -> list[torch.Tensor]:
    """start() and greedy step logits at `threads` torch threads; rows 1 and 4 dropped after step 3."""
    torch.set_num_threads(threads)
    ids, mask = gen._left_pad(gen._encode([gen.render(q) for q in questions]))
    dec = FastLlama(model)
    with torch.inference_mode():
        out = [dec.start(ids, mask, 2, steps + 1)]
        assert dec.batch is not None
        tok = out[-1].argmax(-1)
        for t in range(steps):
            if t == 3 and tok.shape[0] > 4:
                keep = torch.tensor([i for i in range(tok.shape[0]) if i not in (1, 4)])
                dec.keep(keep)
                tok = tok[keep]
            out.append(dec.step(tok))
            tok = out[-1].argmax(-1)
    return out


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
@pytest.mark.parametrize("chunk", [256, 9])  # 9: several prefill groups, a long prompt alone in one
@pytest.mark.parametrize("questions", [QUESTIONS, LONG], ids=["five", "long"])
def test_logits_are_bit_identical_at_one_and_two_threads(arch, chunk, questions, llama, lib, nan_blocks, monkeypatch):
    monkeypatch.setattr(kernel_batch, "PREFILL_CHUNK", chunk)
    model, tok = llama if arch == "llama" else qwen2_with_biases()
    gen = HFGenerator.from_model(model, tok)
    one = decode_logits(model, gen, questions, 1)
    two = decode_logits(model, gen, questions, 2)
    assert lib.ponder_threads() == 2 and lib.ponder_pool_workers() >= 1
    lib.ponder_pool_check(1)  # parts last-first on this thread: no part may need another's output
    three = decode_logits(model, gen, questions, 3)
    for a, b, c in zip(one, two, three):
        assert torch.equal(a, b) and torch.equal(a, c)


@pytest.mark.parametrize("temperature", [0.0, 0.9])
def test_generated_tokens_and_logprobs_equal_at_one_and_two_threads(temperature, llama, lib):
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    prompts = [gen.render(q) for q in QUESTIONS]
    params = SamplingParams(temperature=temperature, max_tokens=16, n=3, seed=7, logprobs=True)
    out = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        out[threads] = [(c.token_ids, c.logprobs) for g in gen.generate(prompts, params) for c in g]
    assert out[1] == out[2]
    assert sum(len(ids) for ids, _ in out[1]) > 3 * len(prompts)


@pytest.mark.parametrize("rows", [1, 2, 7, 13])
@pytest.mark.parametrize("K,N", [(7, 33), (40, 130), (64, 300)])
def test_gemm_is_bit_identical_at_one_to_four_threads(rows, K, N, lib):
    torch.manual_seed(rows * N)
    a, w, bias = torch.randn(rows, K), torch.randn(K, N), torch.randn(N)
    packed = panels(w)
    results = []
    for threads in (1, 2, 3, 4):
        lib.ponder_set_threads(threads)
        c = torch.full((rows, N), 0.5)
        lib.ponder_gemm(a.data_ptr(), K, rows, packed.data_ptr(), K, N, bias.data_ptr(), c.data_ptr(), N, 1)
        results.append(c)
    torch.testing.assert_close(results[0], 0.5 + a @ w + bias, atol=1e-4, rtol=1e-5)
    assert all(torch.equal(results[0], c) for c in results[1:])


def test_one_thread_stays_on_the_caller_and_the_pool_stops_and_restarts(llama, lib):
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    params = SamplingParams(temperature=0, max_tokens=8)
    prompts = [gen.render(q) for q in QUESTIONS]
    lib.ponder_pool_stop()
    assert lib.ponder_pool_workers() == 0
    torch.set_num_threads(1)
    ref = gen.generate(prompts, params)
    assert lib.ponder_threads() == 1 and lib.ponder_pool_workers() == 0  # no worker was started
    for threads, workers in ((3, 2), (2, 2)):  # workers stay (asleep) when fewer threads are wanted
        torch.set_num_threads(threads)
        assert gen.generate(prompts, params) == ref
        assert lib.ponder_pool_workers() == workers
    lib.ponder_pool_stop()
    assert lib.ponder_pool_workers() == 0
    assert gen.generate(prompts, params) == ref  # a fresh pool
    assert lib.ponder_pool_workers() == 1


def test_a_forked_child_gets_a_fresh_pool(lib):
    torch.manual_seed(0)
    rows, K, N = 9, 48, 200
    a, packed = torch.randn(rows, K), panels(torch.randn(K, N))
    out = torch.zeros(rows, N)
    args = (a.data_ptr(), K, rows, packed.data_ptr(), K, N, None, out.data_ptr(), N, 0)
    lib.ponder_set_threads(2)
    lib.ponder_gemm(*args)  # the parent's pool is running
    expected = out.clone()
    assert lib.ponder_pool_workers() == 1
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: none of the parent's worker threads exist here
        ok = 0
        try:
            out.zero_()
            lib.ponder_gemm(*args)
            ok = int(torch.equal(out, expected) and lib.ponder_pool_workers() == 1)
        finally:
            os.write(write, bytes([ok]))
            os._exit(0)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 60)
        assert ready, "the forked child hung"
        assert os.read(read, 1) == b"\x01"
    finally:
        os.close(read)
        if not ready:
            os.kill(pid, 9)
        os.waitpid(pid, 0)


def test_decoders_in_several_python_threads_give_the_serial_results(llama, lib):
    model, tok = llama
    gens = [HFGenerator.from_model(model, tok) for _ in range(3)]
    prompts = [[gens[0].render(q)] * (i + 1) for i, q in enumerate(QUESTIONS[:3])]
    params = SamplingParams(temperature=0.8, max_tokens=16, seed=3, logprobs=True)
    torch.set_num_threads(1)
    ref = [g.generate(p, params) for g, p in zip(gens, prompts)]
    torch.set_num_threads(2)
    results: list = [None] * 3
    errors: list = []

    def work(i: int) -> None:
        try:
            results[i] = [gens[i].generate(prompts[i], params) for _ in range(3)]
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)
    for i in range(3):
        assert all(r == ref[i] for r in results[i])


def test_kernel_threads_env_overrides_torch_and_rejects_bad_values(llama, lib, monkeypatch):
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    prompts = [gen.render(q) for q in QUESTIONS]
    params = SamplingParams(temperature=0.7, max_tokens=8, seed=5, logprobs=True)
    torch.set_num_threads(1)
    ref = gen.generate(prompts, params)
    assert lib.ponder_threads() == 1
    monkeypatch.setenv("PONDER_KERNEL_THREADS", "2")  # torch's ops stay on one thread
    assert gen.generate(prompts, params) == ref
    assert lib.ponder_threads() == 2 and torch.get_num_threads() == 1
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("PONDER_KERNEL_THREADS", bad)
        with pytest.raises(PonderError, match="PONDER_KERNEL_THREADS"):
            build.threads()


def test_rope_tables_are_kept_per_model_and_equal_a_fresh_computation(llama):
    model, _ = llama
    rot = model.model.rotary_emb

    def fresh(cap: int) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = torch.arange(cap, dtype=torch.float)[:, None] * rot.inv_freq.float()[None, :]
        return freqs.cos() * rot.attention_scaling, freqs.sin() * rot.attention_scaling

    cos, sin = rope_tables(rot, 48)
    assert rope_tables(rot, 40)[0].data_ptr() == cos.data_ptr()  # the same kept table, not recomputed
    for cap in (48, 2000, 7):  # 2000: the table grows
        got, want = rope_tables(rot, cap), fresh(cap)
        assert got[0].shape == (cap, rot.inv_freq.shape[0])
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
