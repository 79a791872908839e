"""The registered GRPO-family switches on hand-computed examples (golden literals), against
slow loop references where there is a vectorised version, and a user plug-in by path."""

import math

import pytest
import torch

from ponder.train.advantages import ADVANTAGES, group_advantages
from ponder.train.losses import (
    KL_ESTIMATORS,
    kl_penalty,
    mismatch_geo_mask,
    mismatch_token_mask,
    reverse_kl_policy_loss,
)
from ponder.train.policy_losses import POLICY_LOSSES
from ponder.train.presets import PRESETS, resolve_switches
from ponder.types import PonderError

NAN = math.nan


def test_rloo_golden():
    adv = ADVANTAGES.get("rloo")(torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, NAN, 0.0, NAN]]), scale="none")
    # row 0: leave-one-out means 1/3 and 2/3 -> +-2/3; row 1: two scorable -> +-1, NaN -> 0
    assert torch.allclose(adv, torch.tensor([[2 / 3, -2 / 3, -2 / 3, 2 / 3], [1.0, 0.0, -1.0, 0.0]]))


def test_rloo_matches_loop_reference():
    r = torch.rand(4, 6, generator=torch.Generator().manual_seed(0))
    adv = ADVANTAGES.get("rloo")(r, scale="none")
    for i in range(4):
        for j in range(6):
            others = [r[i, k].item() for k in range(6) if k != j]
            assert adv[i, j].item() == pytest.approx(r[i, j].item() - sum(others) / 5, abs=1e-6)


def test_reinforce_pp_global_whitening_golden():
    adv = ADVANTAGES.get("batch_mean")(torch.tensor([[1.0, 0.0], [1.0, 1.0]]), scale="batch", eps=0.0)
    # batch mean 0.75; centred .25 -.75 .25 .25; unbiased std 0.5; an all-equal group still moves
    assert torch.allclose(adv, torch.tensor([[0.5, -1.5], [0.5, 0.5]]))


def test_group_baseline_with_batch_scale_golden():
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]])
    adv = ADVANTAGES.get("group_mean")(r, scale="batch", eps=0.0)
    # centred .5 -.5 -.5 .5 | .75 -.25 -.25 -.25; sum of squares 1.75 / 7 -> std 0.5
    assert torch.allclose(adv, torch.tensor([[1.0, -1.0, -1.0, 1.0], [1.5, -0.5, -0.5, -0.5]]))


def test_group_mean_is_grpo_and_dr_grpo():
    r = torch.rand(5, 7, generator=torch.Generator().manual_seed(1))
    r[0] = 1.0  # a zero-variance group
    r[1, 2] = NAN
    est = ADVANTAGES.get("group_mean")
    assert torch.allclose(est(r, scale="group"), group_advantages(r, scale_std=True), atol=1e-6)
    assert torch.allclose(est(r, scale="none"), group_advantages(r, scale_std=False), atol=1e-7)
    assert torch.equal(ADVANTAGES.get("zero")(r, scale="none"), torch.zeros(5, 7))


def test_dual_clip_caps_negative_advantage_loss():
    logp, old = torch.log(torch.tensor([[3.0, 1.1]])), torch.zeros(1, 2)
    mask = torch.ones(1, 2)
    loss, clipped = POLICY_LOSSES.get("ppo")(
        logp, old, torch.tensor([-1.0]), mask, eps_low=0.2, eps_high=0.2, dual_clip=2.0
    )
    # ratio 3, A = -1: PPO loss max(3, 1.2) = 3, capped at -2 * A = 2; ratio 1.1: 1.1 (inside)
    assert torch.allclose(loss, torch.tensor([[2.0, 1.1]]))
    assert clipped.tolist() == [[True, False]]
    plain, _ = POLICY_LOSSES.get("ppo")(logp, old, torch.tensor([-1.0]), mask, eps_low=0.2, eps_high=0.2)
    assert torch.allclose(plain, torch.tensor([[3.0, 1.1]]))


def test_gspo_sequence_ratio_golden_and_gradient():
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    logp = torch.log(torch.tensor([[2.0, 2.0, 9.0]]))  # the masked third token must not count
    loss, clipped = POLICY_LOSSES.get("gspo")(
        logp, torch.zeros(1, 3), torch.tensor([1.0]), mask, eps_low=0.2, eps_high=0.28
    )
    assert torch.allclose(loss[:, :2], torch.tensor([[-1.28, -1.28]])) and clipped[0, :2].all()
    lp = torch.log(torch.tensor([[1.1, 0.9]])).requires_grad_()
    loss, clipped = POLICY_LOSSES.get("gspo")(
        lp, torch.zeros(1, 2), torch.tensor([1.0]), torch.ones(1, 2), eps_low=1.0, eps_high=1.0
    )
    s = math.sqrt(1.1 * 0.9)  # geometric mean of the token ratios
    assert torch.allclose(loss, torch.tensor([[-s, -s]]), atol=1e-6) and not clipped.any()
    (loss.sum() / 2).backward()  # seq-mean-token-mean of one sequence
    assert torch.allclose(lp.grad, torch.tensor([[-s / 2, -s / 2]]), atol=1e-6)  # d(s A)/d logp_t = s A / |o|


def test_cispo_clipped_detached_weight_golden():
    lp = torch.log(torch.tensor([[1.5, 0.5, 1.0]])).requires_grad_()
    loss, clipped = POLICY_LOSSES.get("cispo")(
        lp, torch.zeros(1, 3), torch.tensor([1.0]), torch.ones(1, 3), eps_low=0.2, eps_high=0.28
    )
    want = [-1.28 * math.log(1.5), -0.8 * math.log(0.5), 0.0]
    assert torch.allclose(loss, torch.tensor([want]), atol=1e-6)
    assert clipped.tolist() == [[True, True, False]]
    loss.sum().backward()
    assert torch.allclose(lp.grad, torch.tensor([[-1.28, -0.8, -1.0]]))  # every token keeps a gradient


def test_policy_losses_agree_at_ratio_one():
    g = torch.Generator().manual_seed(2)
    logp, adv, mask = torch.randn(3, 5, generator=g), torch.randn(3, generator=g), torch.ones(3, 5)
    for name in ("ppo", "gspo"):
        loss, clipped = POLICY_LOSSES.get(name)(logp, logp.clone(), adv, mask, eps_low=0.2, eps_high=0.2)
        assert torch.allclose(loss, -adv.unsqueeze(1).expand(3, 5)) and not clipped.any()


def test_kl_estimators_golden():
    logp, ref = torch.tensor([[0.0]]), torch.tensor([[math.log(0.5)]])
    assert kl_penalty(logp, ref, kind="k1").item() == pytest.approx(math.log(2))
    assert kl_penalty(logp, ref, kind="k2").item() == pytest.approx(0.5 * math.log(2) ** 2)
    assert kl_penalty(logp, ref, kind="k3").item() == pytest.approx(0.5 - math.log(0.5) - 1)
    assert KL_ESTIMATORS.names() == ["k1", "k2", "k3"]


def test_kl_estimators_match_the_true_kl_on_average():
    """Monte-Carlo: k1 and k3 are unbiased for KL(p || q) between two categoricals."""
    p, q = torch.tensor([0.7, 0.2, 0.1]), torch.tensor([0.4, 0.4, 0.2])
    true = float((p * (p / q).log()).sum())
    x = torch.multinomial(p, 200_000, replacement=True, generator=torch.Generator().manual_seed(0))
    lp, lq = p.log()[x].unsqueeze(0), q.log()[x].unsqueeze(0)
    for kind in ("k1", "k3"):
        assert kl_penalty(lp, lq, kind=kind).mean().item() == pytest.approx(true, abs=0.01)


def test_reverse_kl_policy_loss_value_and_gradient():
    lp = torch.log(torch.tensor([[0.5]])).requires_grad_()
    loss = reverse_kl_policy_loss(lp, torch.log(torch.tensor([[0.25]])))
    assert loss.item() == pytest.approx(math.log(2))
    loss.sum().backward()
    assert lp.grad.item() == pytest.approx(math.log(2))  # (log pi - log pi_teacher) * grad log pi


def test_mismatch_masks_golden():
    trainer = torch.zeros(2, 3)
    sampler = torch.log(torch.tensor([[1.0, 0.25, NAN], [1 / 1.5, 1 / 1.5, NAN]]))
    # token ratios 1, 4, unknown | 1.5, 1.5, unknown
    tok = mismatch_token_mask(trainer, sampler, low=0.5, high=2.0)
    assert tok.tolist() == [[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]
    mask = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])  # row 0 counts only its first token
    geo = mismatch_geo_mask(trainer, sampler, mask, low=0.99, high=1.01)
    assert geo.tolist() == [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]  # geometric means 1 and 1.5


def test_every_preset_resolves_and_unknown_names_list_known():
    for name in ("grpo", "dr_grpo", "dapo", "gspo", "cispo", "rloo", "reinforce_pp", "opd"):
        resolve_switches(name)
    assert PRESETS.get("gspo").policy_loss == "gspo" and PRESETS.get("cispo").policy_loss == "cispo"
    assert PRESETS.get("rloo").advantage == "rloo" and PRESETS.get("reinforce_pp").adv_scale == "batch"
    with pytest.raises(PonderError, match="unknown policy loss 'gpso'.*gspo"):
        resolve_switches("grpo", {"policy_loss": "gpso"})
    with pytest.raises(PonderError, match="unknown advantage estimator.*rloo"):
        resolve_switches("grpo", {"advantage": "loo"})
    with pytest.raises(PonderError, match="algo.epochs"):
        resolve_switches("grpo", {"epochs": 0})


def test_user_plugins_by_path(tmp_path):
    f = tmp_path / "mine.py"
    f.write_text(
        "import torch\n"
        "def median_baseline(rewards, *, scale, eps=1e-6):\n"
        "    return rewards - rewards.median(dim=1, keepdim=True).values\n"
        "def sq_kl(logp, ref):\n"
        "    return (logp - ref) ** 2\n"
    )
    sw = resolve_switches("grpo", {"advantage": f"{f}:median_baseline", "kl_estimator": f"{f}:sq_kl"})
    adv = ADVANTAGES.build(sw.advantage)(torch.tensor([[0.0, 1.0, 3.0]]), scale="none")
    assert adv.tolist() == [[-1.0, 0.0, 2.0]]
    assert kl_penalty(torch.tensor([[1.0]]), torch.tensor([[0.0]]), kind=sw.kl_estimator).item() == 1.0
    with pytest.raises(PonderError, match="defines no 'nope'"):
        resolve_switches("grpo", {"policy_loss": f"{f}:nope"})
