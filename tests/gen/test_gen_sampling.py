"""Token selection: filters against slow reference loops, greedy, and sampled frequencies."""

import math

import torch

from ponder.gen.rng import RowUniforms, row_keys
from ponder.gen.sampling import choose_tokens, top_k_filter, top_p_filter


def slow_top_p(row: list[float], p: float) -> set[int]:
    probs = torch.tensor(row).softmax(-1).tolist()
    order = sorted(range(len(row)), key=lambda i: -probs[i])
    kept, mass = set(), 0.0
    for i in order:
        if mass >= p:
            break
        kept.add(i)
        mass += probs[i]
    return kept


def test_top_k_keeps_the_k_largest():
    logits = torch.tensor([[0.1, 3.0, -1.0, 2.0, 0.5]])
    kept = torch.isfinite(top_k_filter(logits, 2))[0].nonzero().squeeze(1).tolist()
    assert kept == [1, 3]
    assert torch.equal(top_k_filter(logits, 0), logits)


def test_top_p_matches_reference_loop():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 11, generator=g) * 2
    for p in (0.05, 0.3, 0.7, 0.95):
        kept = torch.isfinite(top_p_filter(logits, p))
        for row in range(6):
            assert set(kept[row].nonzero().squeeze(1).tolist()) == slow_top_p(logits[row].tolist(), p)


def test_greedy_and_model_logprobs():
    logits = torch.tensor([[1.0, 2.0, 0.0], [0.0, -1.0, 5.0]])
    tokens, lp = choose_tokens(logits, temperature=0, top_k=0, top_p=1.0, rng=None, step=0)
    assert tokens.tolist() == [1, 2]
    assert torch.allclose(lp, torch.log_softmax(logits, -1)[[0, 1], [1, 2]])


def test_sampled_frequencies_follow_the_tempered_distribution():
    logits = torch.tensor([[0.0, 1.0, 2.0]]).repeat(20000, 1)
    rng = RowUniforms(row_keys((0,), 20000))
    tokens, lp = choose_tokens(logits, temperature=2.0, top_k=0, top_p=1.0, rng=rng, step=0)
    freq = torch.bincount(tokens, minlength=3).float() / len(tokens)
    assert torch.allclose(freq, torch.tensor([0.0, 0.5, 1.0]).softmax(-1), atol=0.015)
    # the reported logprob is the model's (temperature 1), not the tempered one
    assert math.isclose(lp[tokens == 2][0].item(), torch.log_softmax(logits[0], -1)[2].item(), abs_tol=1e-6)
