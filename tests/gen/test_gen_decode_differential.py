"""A randomised differential test of the decoding path (issue 16, session 6 review): random small
Llama/Qwen2 models built from a config, random calls (prompt lengths 1..~300, some longer than the
kernel's PREFILL_CHUNK; copies 1-4; prompts that extend an earlier prompt or an earlier prompt plus
its completion, so the prefix cache lends whole and partly filled blocks; a prompt that is a prefix
of an earlier one; the same prompt twice; stop strings and a strengthened EOS ending rows mid-call;
max_rows chunking; greedy and seeded T=0.8) on one generator, so every call after the first reuses
what the ones before left in the prefix cache and the block pool. Checked per scenario:

- every completion's logprobs against a teacher-forced transformers forward of prompt + tokens
  (a KV block overwritten, lent wrongly or read past a row's end shows here), and a greedy token is
  the forward's argmax up to rounding;
- each prompt alone (a fresh generator, its seed from the whole call) samples the same tokens;
- the compiled kernel at 1 and 2 threads gives identical completions;
- the kernel's block pool holds exactly the prefix-cache entries' blocks after each call;
- the eager step (`PONDER_NO_KERNELS=1`) passes the same forward check.

The default run does a few scenarios; `-m slow` runs many more.
"""

from __future__ import annotations

import random

import pytest
import torch

from ponder.gen.hf import HFGenerator
from ponder.gen.kernels import build as kernel_build
from ponder.gen.kernels.batch import PREFILL_CHUNK
from ponder.gen.prefix_cache import BlockEntry
from ponder.models.tiny.build import build_tokenizer, tiny_config
from ponder.types import SamplingParams

ALPHABET = "0123456789+-*=()"
TOK = None


def tokenizer():
    global TOK
    if TOK is None:
        TOK = build_tokenizer()
    return TOK


def random_model(rng: random.Random):
    """A small random Llama or Qwen2 (head size 16 or 32, GQA or not) whose EOS is often likely."""
    from transformers import LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    tok = tokenizer()
    Hkv = rng.choice([1, 2])
    H, D = Hkv * rng.choice([1, 2]), rng.choice([16, 32])
    kw = dict(
        num_hidden_layers=rng.choice([1, 2]), hidden_size=H * D, intermediate_size=rng.choice([32, 64, 96]),
        num_attention_heads=H, num_key_value_heads=Hkv, head_dim=D, initializer_range=0.3,
        max_position_embeddings=1024, rope_theta=rng.choice([100.0, 10000.0]),
    )  # fmt: skip
    torch.manual_seed(rng.randrange(1 << 30))
    cfg = tiny_config(len(tok), **kw)
    if rng.random() < 0.5:
        model = LlamaForCausalLM(cfg)
    else:
        model = Qwen2ForCausalLM(
            Qwen2Config(**{k: v for k, v in cfg.to_dict().items() if k in Qwen2Config().to_dict()})
        )
    with torch.no_grad():  # EOS's output row scaled: likely in some contexts, so rows end mid-call
        head = model.get_output_embeddings().weight
        head[tok.eos_token_id] = head[rng.randrange(3, head.shape[0])] * 1.5
    return model.eval(), tok


def random_text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(n))


def random_calls(rng: random.Random, n_calls: int) -> list[tuple[list[str], SamplingParams, int]]:
    """(prompts, params, max_rows) per call; later calls reuse earlier prompts. A placeholder
    ("<prev>", i) asks for an earlier call's prompt i plus its first completion (made at run time)."""
    calls, seen = [], []
    for _ in range(n_calls):
        prompts = []
        for _ in range(rng.randint(1, 4)):
            kind = rng.random() if seen else 0.0
            if kind < 0.3:
                n = rng.choice([1, 2, 15, 16, 17, rng.randint(1, 120), rng.randint(PREFILL_CHUNK - 20, 300)])
                prompts.append(random_text(rng, n))
            elif kind < 0.5:  # extends an earlier prompt by a random amount (often a partial block)
                prompts.append(rng.choice(seen) + random_text(rng, rng.randint(1, 40)))
            elif kind < 0.6:  # a prefix of an earlier prompt
                p = rng.choice(seen)
                prompts.append(p[: rng.randint(1, len(p))])
            elif kind < 0.75:  # the same prompt again
                prompts.append(rng.choice(seen))
            else:  # an earlier prompt plus its completion: the row's blocks, lent
                prompts.append(("<prev>", rng.randrange(len(seen)), random_text(rng, rng.randint(0, 5))))
        if len(prompts) > 1 and rng.random() < 0.3:
            prompts.append(prompts[0])  # the same prompt twice in one call
        greedy = rng.random() < 0.5
        seed = None if greedy else rng.choice([rng.randrange(1 << 40), tuple(rng.randrange(1 << 62) for _ in prompts)])
        params = SamplingParams(
            n=rng.randint(1, 4), temperature=0.0 if greedy else 0.8, max_tokens=rng.choice([1, 2, 9, 17, 33]),
            stop=rng.choice([(), (rng.choice(ALPHABET),), (rng.choice(ALPHABET), rng.choice(ALPHABET))]), seed=seed,
        )  # fmt: skip
        calls.append((prompts, params, rng.choice([2, 3, 5, 8, 256])))
        seen += [p for p in prompts if isinstance(p, str)]
    return calls


def run_calls(gen: HFGenerator, calls) -> tuple[list[list[str]], list]:
    """Runs the calls on gen; returns each call's concrete prompts and completions, checking the
    kernel's block pool after each call."""
    texts, outs, seen = [], [], []
    for prompts, params, max_rows in calls:
        concrete = []
        for p in prompts:
            if isinstance(p, tuple):
                prev, comp = seen[p[1]]
                p = prev + comp + p[2]
            concrete.append(p)
        gen.max_rows = max_rows
        out = gen.generate(concrete, params)
        texts.append(concrete)
        outs.append(out)
        seen += [(p, o[0].text) for p, o in zip(concrete, out)]
        check_pool(gen)
    return texts, outs


def check_pool(gen: HFGenerator) -> None:
    """Every block of this thread's kept pool is held by prefix-cache entries, as often as they hold it."""
    kept = getattr(gen.workspace._local, "kept", {})
    entries = [e for e in gen.prefix_cache.entries.values() if isinstance(e, BlockEntry)]
    for pool in kept.values():
        mine = [e.blocks for e in entries if e.pool is pool]
        held = torch.cat(mine) if mine else torch.zeros(0, dtype=torch.int64)
        want = torch.zeros(pool.capacity, dtype=torch.int32).index_add_(
            0, held, torch.ones_like(held, dtype=torch.int32)
        )
        assert torch.equal(pool.refs, want), "block refcounts differ from what the prefix cache holds"
        assert pool.in_use == int((want > 0).sum()) and len(set(pool.free)) == len(pool.free)


def check_against_forward(model, gen: HFGenerator, texts, outs, params_list) -> None:
    """Each completion's recorded logprobs = a teacher-forced forward's; greedy tokens are its argmax."""
    for prompts, out, params in zip(texts, outs, params_list):
        for prompt, group in zip(prompts, out):
            ids = gen._encode([prompt])[0]
            for c in group:
                if not c.token_ids:
                    continue
                x = torch.tensor([ids + c.token_ids[:-1]])
                with torch.no_grad():
                    logits = model(x).logits[0, len(ids) - 1 :].float()
                logp = logits.log_softmax(-1)
                got = torch.tensor(c.logprobs)
                want = logp.gather(1, torch.tensor(c.token_ids)[:, None]).squeeze(1)
                assert torch.allclose(got, want, atol=2e-3), (prompt, c.token_ids, (got - want).abs().max())
                if params.temperature == 0:
                    assert bool((want >= logp.max(-1).values - 1e-3).all()), (prompt, c.token_ids)


def scenario(seed: int, monkeypatch, n_calls: int = 5) -> None:
    rng = random.Random(seed)
    model, tok = random_model(rng)
    calls = random_calls(rng, n_calls)
    params_list = [p for _, p, _ in calls]
    results = {}
    for step, threads in (("kernel", "1"), ("kernel", "2"), ("eager", "1")):
        monkeypatch.setenv("PONDER_NO_KERNELS", "1" if step == "eager" else "0")
        monkeypatch.setenv("PONDER_KERNEL_THREADS", threads)
        gen = HFGenerator.from_model(model, tok)
        texts, outs = run_calls(gen, calls)
        check_against_forward(model, gen, texts, outs, params_list)
        results[step, threads] = [[[c.token_ids for c in g] for g in out] for out in outs]
        if (step, threads) == ("kernel", "1"):  # each prompt alone, on a fresh generator
            for prompts, out, params in zip(texts, results[step, threads], params_list):
                for i, (p, group) in enumerate(zip(prompts, out)):
                    alone = HFGenerator.from_model(model, tok).generate([p], params.for_prompts(len(prompts), [i]))
                    assert [c.token_ids for c in alone[0]] == group, (seed, p, params)
    assert results["kernel", "2"] == results["kernel", "1"]


def kernel_available() -> bool:
    return kernel_build.load() is not None


@pytest.mark.skipif(not kernel_available(), reason="no compiled kernel here")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_calls_match_the_forward_alone_and_across_threads(seed, monkeypatch):
    torch.set_num_threads(1)
    scenario(seed, monkeypatch)


@pytest.mark.slow
@pytest.mark.skipif(not kernel_available(), reason="no compiled kernel here")
@pytest.mark.parametrize("seed", range(3, 40))
def test_random_calls_many(seed, monkeypatch):
    torch.set_num_threads(1)
    scenario(seed, monkeypatch, n_calls=8)
