"""The kernel prefill (gen/kernels: every prompt token through the layers in one call, written into
the kernel's cache layout) against the eager torch prefill: the same next-token logits and the same
prompt K/V (as the prefix cache stores them), also for rows that start from a cached prefix and
when prompts go through in several groups; and the kernel's one-call token choice + record in the
sampling loop gives what the torch loop gives (sampled, with EOS, stop strings and dropped rows)."""

import pytest
import torch

from ponder.gen.fastllama import FastLlama
from ponder.gen.hf import HFGenerator
from ponder.gen.kernels import batch as kernel_batch
from ponder.gen.prefix_cache import PrefixCache
from ponder.types import SamplingParams
from tests.gen.test_gen_decode_kernel import qwen2_with_biases

QUESTIONS = ["1+2=", "+".join(str(i) for i in range(14)) + "=", "7", "12*34-5="]
STOPS = ("e#", "</think>", "<answer>", "zF")  # some of the small random model's rows end at one
ATOL, RTOL = 2e-4, 1e-4  # fp32, different summation orders (kernel GEMM vs torch matmul / SDPA)


def _start(model, gen, prompts, step: str, set_decode_step, cache=None, copies=2):
    """start() logits (P * copies, V) on the given step, and the decoder."""
    set_decode_step(step)
    ids, mask = gen._left_pad(gen._encode(prompts))
    dec = FastLlama(model, prefix_cache=cache)
    with torch.inference_mode():
        logits = dec.start(ids, mask, copies, 8)
    assert (dec.batch is not None) == (step == "kernel")
    return logits, dec


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
@pytest.mark.parametrize("chunk", [256, 9])  # 9: several groups, and prompts longer than a group alone
def test_kernel_prefill_equals_the_eager_prefill(arch, chunk, llama, set_decode_step, monkeypatch):
    monkeypatch.setattr(kernel_batch, "PREFILL_CHUNK", chunk)
    model, tok = llama if arch == "llama" else qwen2_with_biases()
    gen = HFGenerator.from_model(model, tok)
    prompts = [gen.render(q) for q in QUESTIONS]
    caches = {step: PrefixCache() for step in ("kernel", "eager")}
    out = {step: _start(model, gen, prompts, step, set_decode_step, caches[step])[0] for step in caches}
    assert out["kernel"].shape == out["eager"].shape == (2 * len(prompts), model.config.vocab_size)
    torch.testing.assert_close(out["kernel"], out["eager"], atol=ATOL, rtol=RTOL)
    assert list(caches["kernel"].entries) == list(caches["eager"].entries)
    for a, b in zip(caches["kernel"].entries.values(), caches["eager"].entries.values()):
        for (ka, va), (kb, vb) in zip(a.kv(), b.kv()):
            assert ka.shape == kb.shape
            torch.testing.assert_close(ka, kb, atol=ATOL, rtol=RTOL)
            torch.testing.assert_close(va, vb, atol=ATOL, rtol=RTOL)


def test_rows_from_a_cached_prefix_prefill_as_a_fresh_prompt(llama, set_decode_step):
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    prompts = [gen.render(q) for q in QUESTIONS]
    longer = [p + "3+4" for p in prompts[:3]] + ["no cached prefix here"]
    out = {}
    for step in ("kernel", "eager"):
        cache = PrefixCache()
        _start(model, gen, prompts, step, set_decode_step, cache)
        hits = cache.hits
        out[step], dec = _start(model, gen, longer, step, set_decode_step, cache, copies=3)
        assert cache.hits - hits == 3
        fresh, _ = _start(model, gen, longer, step, set_decode_step, None, copies=3)
        torch.testing.assert_close(out[step], fresh, atol=ATOL, rtol=RTOL)
        with torch.inference_mode():  # the cache columns the prefill wrote decode as a fresh prefill's
            a = dec.step(out[step].argmax(-1))
        torch.testing.assert_close(a, _decode_once(model, gen, longer, step, set_decode_step), atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(out["kernel"], out["eager"], atol=ATOL, rtol=RTOL)


def _decode_once(model, gen, prompts, step, set_decode_step):
    logits, dec = _start(model, gen, prompts, step, set_decode_step, None, copies=3)
    with torch.inference_mode():
        return dec.step(logits.argmax(-1))


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_one_call_choice_and_record_equal_the_torch_loop(temperature, llama, set_decode_step):
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    prompts = [gen.render(q) for q in QUESTIONS]
    runs = {}
    for step in ("kernel", "eager"):
        set_decode_step(step)
        for stop in ((), STOPS):
            params = SamplingParams(n=4, temperature=temperature, max_tokens=20, seed=3, stop=stop, logprobs=True)
            runs[step, stop] = [c for group in gen.generate(prompts, params) for c in group]
    for stop in ((), STOPS):
        ours, ref = runs["kernel", stop], runs["eager", stop]
        assert [(c.token_ids, c.finish_reason) for c in ours] == [(c.token_ids, c.finish_reason) for c in ref]
        for a, b in zip(ours, ref):
            assert a.logprobs == pytest.approx(b.logprobs, abs=1e-4)
    reasons = {c.finish_reason for c in runs["kernel", STOPS]}
    assert "stop" in reasons and len(reasons) > 1  # rows ended at stops while others went on
