"""Per-token entropy and self-certainty (SamplingParams.token_stats): golden numbers for the pure
function, the hf generator's values checked against a teacher-forced recomputation, and the
default (off) leaving completions, samples and cache keys as they were."""

import math

import pytest
import torch

from ponder.gen.cache import cache_key
from ponder.gen.hf import HFGenerator
from ponder.gen.sampling import distribution_stats
from ponder.types import Completion, SamplingParams, Step


def test_distribution_stats_golden():
    # p = (1/2, 1/4, 1/4): H = 1.5 ln 2; KL(U || p) = -ln 3 - mean(ln p) = -ln 3 + (5/3) ln 2
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25], [1 / 3, 1 / 3, 1 / 3]]))
    h, sc = distribution_stats(logits)
    assert h.tolist() == pytest.approx([1.5 * math.log(2), math.log(3)], abs=1e-6)
    assert sc.tolist() == pytest.approx([-math.log(3) + 5 / 3 * math.log(2), 0.0], abs=1e-6)


def test_a_one_hot_distribution_is_finite():
    h, sc = distribution_stats(torch.tensor([[0.0, float("-inf"), float("-inf")]]))
    assert h.item() == pytest.approx(0.0) and math.isfinite(sc.item()) and sc.item() > 0


def test_hf_stats_match_teacher_forced_distributions(llama):
    model, tok = llama
    gen = HFGenerator.from_model(model, tok)
    prompt = gen.render("12*34-5=")
    params = SamplingParams(n=2, temperature=1.0, max_tokens=6, seed=3, token_stats=True)
    out = gen.generate([prompt], params)[0]
    plain = gen.generate([prompt], SamplingParams(n=2, temperature=1.0, max_tokens=6, seed=3))[0]
    assert [c.text for c in out] == [c.text for c in plain]  # asking for stats changes no sample
    assert plain[0].entropies is None and plain[0].certainties is None
    head = tok(prompt, add_special_tokens=False)["input_ids"]
    for c in out:
        assert len(c.entropies) == len(c.certainties) == len(c.token_ids)
        ids = torch.tensor([head + c.token_ids])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, len(head) - 1 : -1]  # (T, V)
        h, sc = distribution_stats(logits)
        assert c.entropies == pytest.approx(h.tolist(), abs=1e-3)
        assert c.certainties == pytest.approx(sc.tolist(), abs=1e-3)


def test_step_carries_stats_through_concatenation_and_cache_keys_are_stable():
    c = Completion("ab", [1, 2], [-0.1, -0.2], entropies=[0.5, 0.6], certainties=[2.0, 3.0])
    s = Step.of(c) + Step("c", [-0.3], [0.7], [4.0])
    assert (s, s.logprobs, s.entropies, s.certainties) == ("abc", [-0.1, -0.2, -0.3], [0.5, 0.6, 0.7], [2.0, 3.0, 4.0])
    assert (Step.of(c) + Step("c", [-0.3])).entropies is None
    off, on = SamplingParams(), SamplingParams(token_stats=True)
    assert cache_key("m", "p", off) != cache_key("m", "p", on)
    # a key written before the field existed: the same params without it
    import dataclasses
    import hashlib
    import json

    old = dataclasses.asdict(off)
    del old["token_stats"]
    blob = json.dumps(["m", "p", old, 0], sort_keys=True, default=list)
    assert cache_key("m", "p", off) == hashlib.sha256(blob.encode()).hexdigest()
