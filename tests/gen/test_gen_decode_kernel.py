"""The compiled decode step (gen/kernels): its logits equal the eager torch step's step for step
(GQA, q/k/v biases, copies per prompt, rows dropped mid-way), its matmul equals torch's on ragged
shapes, it builds into a fresh cache
directory, and every way it cannot run (PONDER_NO_KERNELS, no compiler, a failed build, a head
size it does not handle) falls back to the eager step with the reason logged."""

import logging

import pytest
import torch

from ponder.gen.fastllama import FastLlama
from ponder.gen.hf import HFGenerator
from ponder.gen.kernels import build
from ponder.gen.kernels.plan import unsupported_reason
from ponder.models.tiny.build import build_model
from ponder.types import SamplingParams


def qwen2_with_biases():
    import transformers

    from ponder.models.tiny.build import build_tokenizer

    tok = build_tokenizer()
    torch.manual_seed(1)
    cfg = transformers.Qwen2Config(
        vocab_size=len(tok), hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=1, initializer_range=0.3, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip
    model = transformers.Qwen2ForCausalLM(cfg).eval()
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_proj.bias.normal_(0, 0.3)
            layer.self_attn.k_proj.bias.normal_(0, 0.3)
            layer.self_attn.v_proj.bias.normal_(0, 0.3)
    return model, tok


def run_steps(model, ids, mask, copies: int, steps: int) -> list[torch.Tensor]:
    """Logits of start() and each greedy step; rows 0 and 2 are dropped after the second step."""
    dec = FastLlama(model)
    out = [dec.start(ids, mask, copies, steps + 1)]
    tok = out[-1].argmax(-1)
    for t in range(steps):
        if t == 2:
            keep = torch.tensor([i for i in range(tok.shape[0]) if i not in (0, 2)])
            dec.keep(keep)
            tok = tok[keep]
        out.append(dec.step(tok))
        tok = out[-1].argmax(-1)
    return out, dec


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_kernel_logits_equal_the_eager_step(arch, llama, set_decode_step):
    model, tok = llama if arch == "llama" else qwen2_with_biases()
    gen = HFGenerator.from_model(model, tok)
    long = "+".join(str(i) for i in range(16)) + "="  # ~45 tokens: attention spans of 1-5 key blocks
    ids, mask = gen._left_pad(gen._encode([gen.render(q) for q in ["1+2=", long, "7"]]))
    assert 35 < ids.shape[1] < 60
    with torch.inference_mode():
        set_decode_step("kernel")
        ours, dec = run_steps(model, ids, mask, copies=2, steps=24)
        assert dec.batch is not None  # the kernel really ran
        set_decode_step("eager")
        ref, dec = run_steps(model, ids, mask, copies=2, steps=24)
        assert dec.batch is None
    for a, b in zip(ours, ref):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=2e-4, rtol=1e-4)


def test_builds_into_a_fresh_cache_directory(tmp_path, monkeypatch):
    if build.cpu_reason() or build.compiler() is None:
        pytest.skip("no AVX-512 CPU or no C++ compiler here")
    monkeypatch.delenv("PONDER_NO_KERNELS", raising=False)
    monkeypatch.setenv("PONDER_KERNEL_DIR", str(tmp_path))
    monkeypatch.setattr(build, "_state", {})
    assert build.load() is not None
    assert [p.name for p in tmp_path.iterdir()] == [build.library_path(build.compiler()).name]


@pytest.mark.parametrize("how", ["env", "no compiler", "failed build"])
def test_falls_back_to_the_eager_step_with_a_logged_reason(how, tmp_path, monkeypatch, caplog, llama):
    monkeypatch.setattr(build, "_state", {})
    monkeypatch.setenv("PONDER_KERNEL_DIR", str(tmp_path))
    monkeypatch.delenv("PONDER_NO_KERNELS", raising=False)
    if how == "env":
        monkeypatch.setenv("PONDER_NO_KERNELS", "1")
    elif how == "no compiler":
        monkeypatch.setattr(build, "compiler", lambda: None)
    else:
        monkeypatch.setenv("CXX", "false")  # a "compiler" that always fails
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    with caplog.at_level(logging.INFO, logger=build.__name__):
        out = [gen.generate([gen.render("1+2=")], SamplingParams(temperature=0, max_tokens=6)) for _ in range(2)]
    assert FastLlama(model).lib is None
    assert out[0][0][0].token_ids == out[1][0][0].token_ids and len(out[0][0][0].token_ids) > 0
    reasons = [r.getMessage() for r in caplog.records if "decode kernel not used" in r.getMessage()]
    assert len(reasons) == 1  # logged once, not per call
    if how == "env":
        assert "PONDER_NO_KERNELS" in reasons[0]
    elif build.cpu_reason() is None:
        assert ("compiler" if how == "no compiler" else "failed") in reasons[0]


def test_head_sizes_it_does_not_handle_take_the_eager_step(set_decode_step):
    torch.set_num_threads(1)
    model, tok = build_model(num_hidden_layers=1, hidden_size=64, intermediate_size=64, num_attention_heads=8)
    assert "head_dim 8" in unsupported_reason(model.eval())
    set_decode_step("kernel")
    assert FastLlama(model).lib is None
    gen = HFGenerator.from_model(model, tok)
    assert gen.generate([gen.render("1+2=")], SamplingParams(temperature=0, max_tokens=4))[0][0].token_ids


@pytest.mark.parametrize("rows", [1, 2, 5, 13])
@pytest.mark.parametrize("K,N", [(7, 33), (64, 96), (40, 130)])
def test_gemm_matches_torch_on_ragged_shapes(rows, K, N, set_decode_step):
    from ponder.gen.kernels.plan import panels

    set_decode_step("kernel")
    lib = build.load()
    torch.manual_seed(rows * K + N)
    a, w, bias, c = torch.randn(rows, K), torch.randn(K, N), torch.randn(N), torch.randn(rows, N)
    packed = panels(w)
    out = torch.full((rows, N + 3), 7.0)  # ldc > N: the columns past N stay untouched
    lib.ponder_gemm(a.data_ptr(), K, rows, packed.data_ptr(), K, N, None, out.data_ptr(), N + 3, 0)
    torch.testing.assert_close(out[:, :N], a @ w, atol=1e-4, rtol=1e-4)
    assert (out[:, N:] == 7.0).all()
    start = c.clone()  # accumulate: C += A @ W + bias
    lib.ponder_gemm(a.data_ptr(), K, rows, packed.data_ptr(), K, N, bias.data_ptr(), c.data_ptr(), N, 1)
    torch.testing.assert_close(c, start + (a @ w + bias), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("temperature", [0.0, 0.7, 1.0])
def test_kernel_sampler_draws_what_the_torch_sampler_draws(temperature, llama, set_decode_step):
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    prompts = [gen.render(q) for q in ["1+2=", "12*34-5=", "7"]]
    params = SamplingParams(n=3, temperature=temperature, max_tokens=16, seed=5, logprobs=True)
    runs = {}
    for step in ("kernel", "eager"):
        set_decode_step(step)
        runs[step] = [c for group in gen.generate(prompts, params) for c in group]
    assert [c.token_ids for c in runs["kernel"]] == [c.token_ids for c in runs["eager"]]
    for a, b in zip(runs["kernel"], runs["eager"]):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-4)
