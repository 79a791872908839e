"""The hf generator's decode paths against transformers itself: greedy tokens equal `generate()`
greedy tokens, and sampled logprobs equal a full forward pass, under left padding."""

import pytest
import torch

from ponder.gen.fastllama import unsupported_reason
from ponder.gen.hf import HFGenerator
from ponder.types import SamplingParams

QUESTIONS = ["1+2=", "12*34-5=", "7", "what is 99-98? think"]  # mixed lengths -> left padding


def hf_greedy(model, tok, prompts, max_new):
    enc = tok(prompts, add_special_tokens=False, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(**enc, do_sample=False, max_new_tokens=max_new, pad_token_id=tok.pad_token_id)
    return out[:, enc.input_ids.shape[1] :].tolist()


def full_forward_logprobs(model, prompt_ids, gen_ids):
    ids = torch.tensor([prompt_ids + gen_ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
    n = len(prompt_ids)
    return [logp[n - 1 + i, t].item() for i, t in enumerate(gen_ids)]


def check_greedy(gen, model, tok, max_new=24):
    prompts = [gen.render(q) for q in QUESTIONS]
    ours = gen.generate(prompts, SamplingParams(temperature=0, max_tokens=max_new))
    ref = hf_greedy(model, tok, prompts, max_new)
    for group, expected in zip(ours, ref):
        c = group[0]
        assert c.token_ids == expected[: len(c.token_ids)]
        assert c.finish_reason == "eos" or len(c.token_ids) == max_new


def test_greedy_equals_transformers_generate(llama, decode_path):
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    gen.fast = decode_path
    check_greedy(gen, model, tok)


@pytest.mark.parametrize("arch", ["qwen2", "mistral"])
def test_greedy_equals_generate_on_other_architectures(arch, decode_path):
    import transformers

    from ponder.models.tiny.build import build_tokenizer

    config_cls, model_cls = {
        "qwen2": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM),
        "mistral": (transformers.MistralConfig, transformers.MistralForCausalLM),
    }[arch]
    tok = build_tokenizer()
    torch.manual_seed(0)
    cfg = config_cls(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, initializer_range=0.3, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip
    model = model_cls(cfg).eval()
    if arch == "qwen2":
        with torch.no_grad():  # Qwen2 has q/k/v biases; make them non-zero so they are exercised
            for layer in model.model.layers:
                layer.self_attn.q_proj.bias.normal_(0, 0.3)
                layer.self_attn.k_proj.bias.normal_(0, 0.3)
    assert unsupported_reason(model, total_len=100) is None  # fast=None really takes the fast path
    gen = HFGenerator.from_model(model, tok)
    gen.fast = decode_path
    check_greedy(gen, model, tok)


def test_sampled_logprobs_match_full_forward(llama, decode_path):
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    gen.fast = decode_path
    prompts = [gen.render(q) for q in QUESTIONS]
    params = SamplingParams(n=3, temperature=1.0, top_p=0.9, top_k=20, max_tokens=16, seed=3)
    out = gen.generate(prompts, params)
    for prompt, group in zip(prompts, out):
        prompt_ids = tok(prompt, add_special_tokens=False).input_ids
        for c in group:
            assert c.prompt_tokens == len(prompt_ids)
            expected = full_forward_logprobs(model, prompt_ids, c.token_ids)
            assert c.logprobs == pytest.approx(expected, abs=1e-4)


def test_logprobs_method_matches_full_forward(llama):
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    prompts = [gen.render(q) for q in QUESTIONS]
    conts = ["<think>1+2=3</think>", "x", "", "<answer>1</answer>"]
    got = gen.logprobs(prompts, conts)
    for p, c, lp in zip(prompts, conts, got):
        pids, cids = tok(p, add_special_tokens=False).input_ids, tok(c, add_special_tokens=False).input_ids
        assert lp == pytest.approx(full_forward_logprobs(model, pids, cids), abs=1e-4)


def test_fast_path_reads_live_parameters(llama, decode_step):
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    prompts = [gen.render("1+2=")]
    params = SamplingParams(temperature=0, max_tokens=8)
    before = gen.generate(prompts, params)[0][0].logprobs
    with torch.no_grad():
        model.model.layers[0].mlp.down_proj.weight.mul_(1.5)  # an optimizer step, in place
    try:
        after = gen.generate(prompts, params)[0][0]
        prompt_ids = tok(prompts[0], add_special_tokens=False).input_ids
        assert after.logprobs != before
        assert after.logprobs == pytest.approx(full_forward_logprobs(model, prompt_ids, after.token_ids), abs=1e-4)
    finally:
        with torch.no_grad():
            model.model.layers[0].mlp.down_proj.weight.div_(1.5)


def test_unsupported_models_are_named_with_a_reason(llama):
    model, _ = llama
    assert unsupported_reason(model, total_len=100) is None
    model.config.hidden_act = "gelu"
    try:
        assert "gelu" in unsupported_reason(model, total_len=100)
    finally:
        model.config.hidden_act = "silu"


def test_fast_path_weight_copies_are_kept_until_a_parameter_changes(llama, decode_step):
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    params = SamplingParams(temperature=0, max_tokens=4)
    gen.generate([gen.render("1+2=")], params)
    first = dict(gen._packed.values)
    assert list(first) == (["kernel"] if decode_step == "kernel" else ["eager"])  # the kernel prefills too
    gen.generate([gen.render("3+4=")], params)
    assert all(gen._packed.values[k] is v for k, v in first.items())  # fixed weights: nothing re-read
    with torch.no_grad():
        model.model.layers[1].self_attn.q_proj.weight.add_(0.0)  # in place: version counter moves
    gen.generate([gen.render("3+4=")], params)
    assert all(gen._packed.values[k] is not v for k, v in first.items())
