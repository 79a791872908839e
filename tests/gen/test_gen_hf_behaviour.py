"""The hf generator's sampling contract: stop strings per sequence, n per prompt, seeds, EOS,
max_tokens, loading from a folder."""

import pytest
import torch

from ponder.gen import load_generator
from ponder.gen.hf import HFGenerator
from ponder.types import Completion, Generator, SamplingParams

QUESTIONS = ["1+2=", "12*34-5=", "7"]


@pytest.fixture(scope="module")
def gen(llama):
    model, tok = llama
    return HFGenerator.from_model(model, tok)


def greedy(gen, prompts, max_tokens=30, **kw):
    return [g[0] for g in gen.generate(prompts, SamplingParams(temperature=0, max_tokens=max_tokens, **kw))]


def test_stop_string_ends_one_sequence_while_others_go_on(gen):
    prompts = [gen.render(q) for q in QUESTIONS]
    free = greedy(gen, prompts)
    stop = free[1].text[10:13]  # a piece of the second sequence's text
    assert all(stop not in c.text for i, c in enumerate(free) if i != 1), "pick another test stop"
    cut = greedy(gen, prompts, stop=(stop, "no such stop"))
    end = free[1].text.find(stop) + len(stop)
    assert cut[1].finish_reason == "stop"
    assert cut[1].text == free[1].text[:end]
    assert cut[1].token_ids == free[1].token_ids[: len(cut[1].token_ids)]
    assert gen.tokenizer.decode(cut[1].token_ids).endswith(stop)
    assert len(cut[1].logprobs) == len(cut[1].token_ids)
    for i in (0, 2):
        assert cut[i].token_ids == free[i].token_ids and cut[i].finish_reason == free[i].finish_reason != "stop"


def test_n_samples_per_prompt_greedy_agree_and_sampled_differ(gen):
    prompts = [gen.render(q) for q in QUESTIONS]
    out = gen.generate(prompts, SamplingParams(n=3, temperature=0, max_tokens=12))
    assert [len(g) for g in out] == [3, 3, 3]
    assert all(c.token_ids == g[0].token_ids for g in out for c in g)
    sampled = gen.generate(prompts, SamplingParams(n=4, temperature=1.0, max_tokens=12, seed=0))
    assert all(len({tuple(c.token_ids) for c in g}) > 1 for g in sampled)
    assert all(c.prompt_tokens == g[0].prompt_tokens for g in sampled for c in g)


def test_seed_makes_sampling_repeatable(gen):
    prompts = [gen.render(q) for q in QUESTIONS]
    params = SamplingParams(n=2, temperature=0.9, top_p=0.95, max_tokens=15, seed=7)
    a, b = gen.generate(prompts, params), gen.generate(prompts, params)
    c = gen.generate(prompts, SamplingParams(n=2, temperature=0.9, top_p=0.95, max_tokens=15, seed=8))
    ids = lambda out: [x.token_ids for g in out for x in g]  # noqa: E731
    assert ids(a) == ids(b)
    assert ids(a) != ids(c)


def test_top_k_one_is_greedy(gen):
    prompts = [gen.render(q) for q in QUESTIONS]
    sampled = gen.generate(prompts, SamplingParams(temperature=1.5, top_k=1, max_tokens=12, seed=1))
    assert [g[0].token_ids for g in sampled] == [c.token_ids for c in greedy(gen, prompts, max_tokens=12)]


def test_eos_ends_a_sequence_and_stays_out_of_the_text(gen):
    prompts = [gen.render(q) for q in QUESTIONS]
    free = greedy(gen, prompts)
    eos = free[0].token_ids[5]
    config = gen.model.generation_config
    saved = config.eos_token_id
    config.eos_token_id = eos
    try:
        out = greedy(gen, prompts)
    finally:
        config.eos_token_id = saved
    first = free[0].token_ids.index(eos)
    assert out[0].finish_reason == "eos"
    assert out[0].token_ids == free[0].token_ids[: first + 1]
    assert out[0].text == gen.tokenizer.decode(free[0].token_ids[:first])
    assert len(out[0].logprobs) == first + 1


def test_max_tokens_and_logprobs_flag(gen):
    prompts = [gen.render(q) for q in QUESTIONS]
    out = gen.generate(prompts, SamplingParams(temperature=0, max_tokens=5, logprobs=False))
    assert all(len(g[0].token_ids) == 5 and g[0].logprobs is None for g in out)
    empty = gen.generate(prompts, SamplingParams(n=2, max_tokens=0))
    assert [[c.text for c in g] for g in empty] == [["", ""]] * 3


def test_chunks_of_prompts_give_the_same_greedy_outputs(gen):
    prompts = [gen.render(q) for q in QUESTIONS * 3]
    whole = greedy(gen, prompts)
    gen.max_rows = 2
    try:
        chunked = greedy(gen, prompts)
    finally:
        gen.max_rows = 256
    assert [c.token_ids for c in whole] == [c.token_ids for c in chunked]


def test_load_from_folder_and_render(llama, tmp_path):
    model, tok = llama
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    gen = load_generator(str(tmp_path), device="cpu")
    assert isinstance(gen, Generator) and isinstance(gen, HFGenerator)
    assert gen.name == f"hf:{tmp_path}"
    assert gen.n_params == sum(p.numel() for p in model.parameters())
    assert gen.render("1+2=") == "<bos>1+2=\n"
    assert gen.model.dtype == torch.float32 and gen.device.type == "cpu"
    out = gen.generate([gen.render("1+2=")], SamplingParams(temperature=0, max_tokens=6))
    assert isinstance(out[0][0], Completion) and len(out[0][0].token_ids) == 6


@pytest.mark.parametrize("fast", [None, False])
def test_rows_dropped_after_their_stop_leave_the_others_unchanged(gen, fast):
    from collections import Counter

    from ponder.gen.stops import cut_at_stop

    prompts = [gen.render(q) for q in QUESTIONS + ["99-1=", "abc", "Q:5*5=", "x"]]
    gen.fast = fast
    try:
        free = greedy(gen, prompts)
        stop = Counter(ch for c in free for ch in set(c.text[2:])).most_common(1)[0][0]
        cut = greedy(gen, prompts, stop=(stop,))
    finally:
        gen.fast = None
    stopped = 0
    for f, c in zip(free, cut):
        expected = cut_at_stop(f.text, (stop,))
        if expected is not None:
            stopped += 1
            assert (c.text, c.finish_reason) == (expected, "stop")
            assert c.token_ids == f.token_ids[: len(c.token_ids)]
        else:
            assert (c.token_ids, c.finish_reason) == (f.token_ids, f.finish_reason)
    assert stopped > len(prompts) // 2  # most rows stop early, so the batch is compacted


def test_builtin_tiny_reasoner_loads_once_trained():
    from ponder.models import TINY_DIR

    if not (TINY_DIR / "config.json").is_file():
        pytest.skip("the tiny reasoner's weights are not trained yet")
    gen = load_generator("tiny", device="cpu")
    assert gen.name == "hf:tiny"
    out = gen.generate([gen.render("Q:12+34=")], SamplingParams(temperature=0, max_tokens=60, stop=("</answer>",)))
    assert out[0][0].finish_reason in ("stop", "eos", "length") and out[0][0].token_ids


def test_a_model_in_train_mode_stays_in_train_mode(llama):
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    model.train()
    try:
        gen.generate([gen.render("1+2=")], SamplingParams(max_tokens=3, seed=0))
        gen.logprobs([gen.render("1+2=")], ["3"])
        assert model.training
    finally:
        model.eval()
