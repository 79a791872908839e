"""Per-row random streams (gen/rng.py): the torch uniforms equal a pure-Python splitmix64 and the
compiled kernel's bit for bit; a seeded prompt samples the same tokens alone, among other prompts,
at another position and under any chunking, on every decode path; seeds per prompt."""

import random

import pytest
import torch

from ponder.gen.hf import HFGenerator
from ponder.gen.kernels import build
from ponder.gen.rng import RowUniforms, row_keys, signed64, uniforms
from ponder.types import GOLDEN64, MASK64, PonderError, SamplingParams, derived_seed, mix64

EDGE = [0, 1, 2, MASK64, 1 << 63, (1 << 63) - 1, (1 << 63) + 1, GOLDEN64, (-GOLDEN64) & MASK64]


def reference_uniform(key: int, step: int) -> float:
    return (mix64(key + GOLDEN64 * (step + 1)) >> 40) / 2**24


def some_keys(n: int = 300) -> list[int]:
    rng = random.Random(0)
    return EDGE + [rng.getrandbits(64) for _ in range(n)]


def test_torch_uniforms_equal_a_python_splitmix64_bit_for_bit():
    keys = some_keys()
    got = uniforms(torch.tensor([signed64(k) for k in keys]), 5, 3).tolist()
    assert got == [[reference_uniform(k, s) for s in (5, 6, 7)] for k in keys]
    far = uniforms(torch.tensor([signed64(k) for k in EDGE]), 2**40, 1)[:, 0].tolist()  # a step past 32 bits
    assert far == [reference_uniform(k, 2**40) for k in EDGE]


def test_kernel_uniforms_equal_the_torch_ones_bit_for_bit(monkeypatch):
    monkeypatch.delenv("PONDER_NO_KERNELS", raising=False)
    lib = build.load()
    if lib is None:
        pytest.skip("the decode kernel cannot be built here")
    keys = torch.tensor([signed64(k) for k in some_keys()])
    for first, count in ((0, 70), (1000, 4), (2**33, 2)):
        out = torch.empty(len(keys), count)
        lib.ponder_uniforms(keys.data_ptr(), len(keys), first, count, out.data_ptr())
        assert torch.equal(out, uniforms(keys, first, count))


def test_row_keys_and_the_block_table():
    keys = row_keys((7, MASK64, -3), 4)
    want = [mix64(s + GOLDEN64 * (j + 1)) for s in (7, MASK64, -3) for j in range(4)]
    assert [k & MASK64 for k in keys.tolist()] == want
    table = RowUniforms(keys, block=8)
    rows = torch.tensor([1, 5, 11])
    for step in (0, 7, 8, 3, 30):  # inside, across and back before the current block
        assert torch.equal(table.at(step), uniforms(keys, step)[:, 0])
        assert torch.equal(table.at(step, rows), uniforms(keys, step)[rows, 0])
    u = uniforms(row_keys((1,), 20000), 0)[:, 0]
    assert abs(u.mean().item() - 0.5) < 0.01 and u.min().item() >= 0 and u.max().item() < 1


def test_prompt_seeds():
    assert SamplingParams(seed=9).prompt_seeds(3) == tuple(derived_seed(9, i) for i in range(3))
    assert all(0 <= s < 2**63 for s in SamplingParams(seed=-5).prompt_seeds(4))
    assert SamplingParams(seed=[4, 5]).seed == (4, 5)  # a list becomes a tuple (params stay hashable)
    assert SamplingParams(seed=(4, 5)).prompt_seeds(2) == (4, 5)
    assert SamplingParams().prompt_seeds(2) is None
    whole = SamplingParams(seed=9)
    assert whole.for_prompts(5, [3, 1]).seed == (derived_seed(9, 3), derived_seed(9, 1))
    with pytest.raises(PonderError, match="2 seeds for 3 prompts"):
        SamplingParams(seed=(1, 2)).prompt_seeds(3)
    with pytest.raises(PonderError, match="one int per prompt"):
        SamplingParams(seed=(1, "2"))


def tokens(gen, prompts, params) -> list[list[list[int]]]:
    return [[c.token_ids for c in group] for group in gen.generate(prompts, params)]


@pytest.mark.parametrize("top_p", [1.0, 0.9])  # the kernel's sampler / the torch one (top-p)
def test_a_seeded_prompt_samples_the_same_whatever_shares_its_call(top_p, llama, decode_path):
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    gen.fast = decode_path
    gen.prefix_cache = None
    qs = [gen.render(q) for q in ["1+2=", "12*34-5=", "7", "99-1=", "3*3="]]
    params = SamplingParams(n=3, temperature=1.0, top_p=top_p, max_tokens=12, seed=(11, 12, 13, 14, 15))
    together = tokens(gen, qs, params)
    for i, q in enumerate(qs):  # alone, with its own seed
        assert tokens(gen, [q], SamplingParams(n=3, temperature=1.0, top_p=top_p, max_tokens=12, seed=(11 + i,))) == [
            together[i]
        ]
    order = [4, 2, 0, 3, 1]  # other positions
    shuffled = tokens(gen, [qs[i] for i in order], SamplingParams(n=3, temperature=1.0, top_p=top_p, max_tokens=12,
                                                                 seed=tuple(11 + i for i in order)))  # fmt: skip
    assert shuffled == [together[i] for i in order]
    gen.max_rows = 4  # chunks of one prompt (3 rows)
    assert tokens(gen, qs, params) == together
    other = tokens(gen, qs, SamplingParams(n=3, temperature=1.0, top_p=top_p, max_tokens=12, seed=(99, 12, 13, 14, 15)))
    assert other[1:] == together[1:] and other[0] != together[0]
    assert len({tuple(r) for r in together[0]}) > 1  # copies of a prompt draw differently


def test_an_int_seed_is_the_per_prompt_seeds_it_derives(llama):
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    qs = [gen.render(q) for q in ["1+2=", "12*34-5=", "7"]]
    params = SamplingParams(n=2, temperature=1.0, max_tokens=10, seed=21)
    assert tokens(gen, qs, params) == tokens(gen, qs, SamplingParams(n=2, temperature=1.0, max_tokens=10,
                                                                     seed=params.prompt_seeds(3)))  # fmt: skip
    assert tokens(gen, qs, params) == tokens(gen, qs, params)
    unseeded = SamplingParams(n=4, temperature=1.0, max_tokens=10)
    assert tokens(gen, qs, unseeded) != tokens(gen, qs, unseeded)  # fresh entropy per call
