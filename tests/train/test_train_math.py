"""Golden numbers and reference loops for the pure advantage / loss functions."""

import dataclasses
import math

import pytest
import torch

from ponder.train.advantages import group_advantages, soft_overlong_penalty, zero_variance_groups
from ponder.train.aggregation import BatchCounts, aggregate
from ponder.train.losses import clipped_policy_loss, dpo_loss, kl_penalty, token_entropy, token_logprobs


def test_grpo_advantages_golden():
    adv = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0]]), scale_std=True)
    # mean 0.5, unbiased std sqrt(1/3) = 0.57735 -> +-0.866025
    assert torch.allclose(adv, torch.tensor([[0.866025, -0.866025, -0.866025, 0.866025]]), atol=1e-5)


def test_dr_grpo_advantages_golden():
    adv = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]]), scale_std=False)
    assert torch.allclose(adv, torch.tensor([[0.5, -0.5, -0.5, 0.5], [0.75, -0.25, -0.25, -0.25]]))


def test_zero_variance_group_gets_zero_advantage():
    r = torch.tensor([[1.0, 1.0, 1.0], [0.0, 1.0, 0.0]])
    assert torch.equal(group_advantages(r, scale_std=True)[0], torch.zeros(3))
    assert zero_variance_groups(r).tolist() == [True, False]


def test_not_applicable_samples_are_left_out_of_the_baseline():
    nan = math.nan
    r = torch.tensor([[1.0, nan, 0.0, 0.0, 1.0], [nan, nan, nan, nan, nan], [nan, 1.0, nan, nan, nan]])
    adv = group_advantages(r, scale_std=True)
    # row 0: the four scorable samples give +-0.866025 as in the golden test; NaN gets 0
    assert torch.allclose(adv[0], torch.tensor([0.866025, 0.0, -0.866025, -0.866025, 0.866025]), atol=1e-5)
    assert torch.equal(adv[1:], torch.zeros(2, 5))  # nothing scorable / one scorable: no signal
    assert torch.allclose(group_advantages(r, scale_std=False)[0], torch.tensor([0.5, 0.0, -0.5, -0.5, 0.5]))
    assert zero_variance_groups(r).tolist() == [False, True, True]


def test_advantages_match_loop_reference():
    g = torch.Generator().manual_seed(0)
    r = torch.rand(5, 7, generator=g)
    adv = group_advantages(r, scale_std=True, eps=0.0)
    for i in range(5):
        row = r[i].tolist()
        mean = sum(row) / len(row)
        std = math.sqrt(sum((x - mean) ** 2 for x in row) / (len(row) - 1))
        for j in range(7):
            assert adv[i, j].item() == pytest.approx((row[j] - mean) / std, rel=1e-5)


def test_soft_overlong_penalty_golden():
    pen = soft_overlong_penalty(torch.tensor([10, 80, 90, 100, 120]), max_tokens=100, cache=20)
    assert torch.allclose(pen, torch.tensor([0.0, 0.0, -0.5, -1.0, -1.0]))


def test_clipped_loss_golden():
    logp = torch.log(torch.tensor([[1.5, 0.5, 1.0]]))
    old = torch.zeros(1, 3)
    loss, clipped = clipped_policy_loss(logp, old, torch.tensor([1.0]), eps_low=0.2, eps_high=0.28)
    # ratios 1.5 (clipped to 1.28), 0.5 (unclipped: min(0.5, 0.8) = 0.5), 1.0
    assert torch.allclose(loss, torch.tensor([[-1.28, -0.5, -1.0]]), atol=1e-6)
    assert clipped.tolist() == [[True, False, False]]
    loss_neg, clipped_neg = clipped_policy_loss(logp, old, torch.tensor([-1.0]), eps_low=0.2, eps_high=0.28)
    # A<0: min(-1.5, -1.28) = -1.5 (unclipped), min(-0.5, -0.8) = -0.8 (clipped at 1-eps_low)
    assert torch.allclose(loss_neg, torch.tensor([[1.5, 0.8, 1.0]]), atol=1e-6)
    assert clipped_neg.tolist() == [[False, True, False]]


def test_kl_estimators_golden():
    logp, ref = torch.tensor([[0.0]]), torch.tensor([[math.log(0.5)]])
    assert kl_penalty(logp, ref, kind="k1").item() == pytest.approx(math.log(2))
    assert kl_penalty(logp, ref, kind="k3").item() == pytest.approx(0.5 - math.log(0.5) - 1)
    assert kl_penalty(ref, ref, kind="k3").item() == 0.0


def test_aggregation_modes_golden():
    per_tok = torch.tensor([[1.0, 1.0, 0.0], [3.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    kw = dict(n_seqs=2, n_tokens=3, max_tokens=4)
    counts = BatchCounts(**kw, n_groups=2, group_tokens=torch.tensor([2.0, 1.0]))
    assert aggregate(per_tok, mask, mode="seq_mean_token_mean", counts=counts).item() == pytest.approx((1.0 + 3.0) / 2)
    assert aggregate(per_tok, mask, mode="token_mean", counts=counts).item() == pytest.approx(5.0 / 3)
    assert aggregate(per_tok, mask, mode="seq_mean_token_sum_norm", counts=counts).item() == pytest.approx(5.0 / 8)
    # one prompt per row here: prompt_mean = seq_mean_token_mean
    assert aggregate(per_tok, mask, mode="prompt_mean", counts=counts).item() == pytest.approx(2.0)
    # both rows one prompt (3 tokens): the prompt's token mean, 5 / 3
    one = BatchCounts(**kw, n_groups=1, group_tokens=torch.tensor([3.0, 3.0]))
    assert aggregate(per_tok, mask, mode="prompt_mean", counts=one).item() == pytest.approx(5.0 / 3)


def test_micro_batch_aggregation_adds_up():
    g = torch.Generator().manual_seed(1)
    per_tok = torch.rand(8, 6, generator=g)
    mask = (torch.rand(8, 6, generator=g) > 0.3).float()
    group = torch.arange(8) // 3
    totals = torch.zeros(3).index_add_(0, group, mask.sum(1))
    for mode in ("seq_mean_token_mean", "token_mean", "seq_mean_token_sum_norm", "prompt_mean"):
        counts = BatchCounts(n_seqs=8, n_tokens=int(mask.sum()), max_tokens=6, n_groups=3, group_tokens=totals[group])
        full = aggregate(per_tok, mask, mode=mode, counts=counts)
        parts = 0.0
        for i in range(0, 8, 2):
            part = dataclasses.replace(counts, group_tokens=totals[group[i : i + 2]])
            parts += aggregate(per_tok[i : i + 2], mask[i : i + 2], mode=mode, counts=part).item()
        assert full.item() == pytest.approx(parts, rel=1e-6)


def test_dpo_loss_golden():
    loss, margin = dpo_loss(
        torch.tensor([-1.0]), torch.tensor([-3.0]), torch.tensor([-2.0]), torch.tensor([-2.0]), beta=0.5
    )
    # margin = 0.5 * ((-1 + 2) - (-3 + 2)) = 1.0; loss = -log sigmoid(1) = 0.313262
    assert margin.item() == pytest.approx(1.0)
    assert loss.item() == pytest.approx(0.3132617, rel=1e-5)


def test_logprobs_and_entropy():
    logits = torch.log(torch.tensor([[[0.25, 0.25, 0.5]]]))
    assert token_logprobs(logits, torch.tensor([[2]])).item() == pytest.approx(math.log(0.5))
    assert token_entropy(logits).item() == pytest.approx(-(0.5 * math.log(0.25) + 0.5 * math.log(0.5)))
