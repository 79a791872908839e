"""The prompt KV cache: a prompt that extends an earlier one reuses its K/V and decodes exactly (kernel prefill and eager)
what a fresh prefill would; an optimizer step empties the cache; the budget evicts old entries."""

import torch

from ponder.gen.hf import HFGenerator
from ponder.gen.prefix_cache import PrefixCache
from ponder.types import SamplingParams


def _gens(llama):
    model, tok = llama
    cached, fresh = HFGenerator.from_model(model, tok), HFGenerator.from_model(model, tok)
    fresh.prefix_cache = None
    return cached, fresh


def test_extended_prompts_decode_as_without_cache(llama, decode_step):
    cached, fresh = _gens(llama)
    greedy = SamplingParams(temperature=0, max_tokens=12)
    prompts = [cached.render(q) for q in ["1+2=", "12*34-5=", "what is 99-98?"]]
    first = cached.generate(prompts, greedy)
    assert [c[0].token_ids for c in first] == [c[0].token_ids for c in fresh.generate(prompts, greedy)]
    longer = [p + c[0].text[:5] for p, c in zip(prompts, first)] + [prompts[0] + "7", "fresh prompt"]
    before = cached.prefix_cache.hits
    ours = cached.generate(longer, SamplingParams(temperature=0, max_tokens=12, n=2))
    assert cached.prefix_cache.hits - before == 4  # all but "fresh prompt" reuse a stored prompt
    ref = fresh.generate(longer, SamplingParams(temperature=0, max_tokens=12, n=2))
    assert [[c.token_ids for c in g] for g in ours] == [[c.token_ids for c in g] for g in ref]
    for a, b in zip(ours, ref):
        assert torch.allclose(torch.tensor(a[0].logprobs), torch.tensor(b[0].logprobs), atol=1e-4)


def test_weight_change_empties_the_cache(llama):
    cached, _ = _gens(llama)
    model = cached.model
    p = cached.render("1+2=")
    cached.generate([p], SamplingParams(temperature=0, max_tokens=4))
    assert cached.prefix_cache.entries
    with torch.no_grad():
        next(model.parameters()).add_(0.0)  # an in-place update, as an optimizer step makes
    cached.generate([p + "3"], SamplingParams(temperature=0, max_tokens=4))
    assert cached.prefix_cache.hits == 0


def test_budget_evicts_least_recently_used():
    cache = PrefixCache(max_tokens=10)
    kv = [(torch.zeros(1, 4, 2), torch.zeros(1, 4, 2))]
    cache.store([1, 2, 3, 4], kv)
    cache.store([5, 6, 7, 8], kv)
    assert cache.lookup([1, 2, 3, 4, 9])[0] == 4  # touch the first: the second is now the oldest
    cache.store([9, 9, 9, 9], kv)
    assert cache.tokens == 8 and cache.lookup([5, 6, 7, 8, 1])[0] == 0 and cache.lookup([9, 9, 9, 9, 1])[0] == 4
    assert cache.lookup([1, 2, 3, 4])[0] == 0  # never the whole prompt: its last logits are needed
