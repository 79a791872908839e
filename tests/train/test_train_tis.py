"""Truncated importance sampling for rollouts from another engine, and the weight sync seam
(no vLLM needed: the engine is a stand-in that records what it is sent)."""

import math

import pytest
import torch
from torch import nn

from ponder.gen.synced import SyncedEngine
from ponder.train import policy_update
from ponder.train.batch import Seq
from ponder.train.losses import truncated_importance_weights
from ponder.train.objective import Correction
from ponder.train.presets import resolve_switches


def test_tis_weights_by_hand():
    nan = float("nan")
    trainer = torch.log(torch.tensor([[0.5, 0.2, 0.9, 0.3]]))
    sampler = torch.log(torch.tensor([[0.25, 0.4, 0.9, 0.1]]))
    sampler[0, 2] = nan  # unknown: weight 1, not truncated
    w, truncated = truncated_importance_weights(trainer, sampler, cap=1.5)
    # ratios 0.5/0.25 = 2 -> capped 1.5; 0.2/0.4 = 0.5; unknown -> 1; 0.3/0.1 = 3 -> 1.5
    assert w.tolist()[0] == pytest.approx([1.5, 0.5, 1.0, 1.5])
    assert truncated.tolist() == [[True, False, False, True]]
    logp = trainer.clone().requires_grad_()
    w, _ = truncated_importance_weights(logp, sampler, cap=1.5)
    assert not w.requires_grad  # a weight, not a path for gradients


def test_sampler_rows_align_with_loss_mask():
    seqs = [Seq(ids=[1, 5, 6, 7, 2], start=2), Seq(ids=[1, 5, 8], start=2)]
    rows = policy_update.sampler_rows(seqs, [[-0.1, -0.2, -0.3], None], width=4)
    # response ids[2:] = 6, 7, 2 are the targets at columns 1, 2, 3
    assert math.isnan(rows[0, 0]) and rows[0, 1:].tolist() == pytest.approx([-0.1, -0.2, -0.3])
    assert all(math.isnan(x) for x in rows[1].tolist())


def _update_grads(model, seqs, adv, sampler, cap):
    model.zero_grad()
    sw = resolve_switches("grpo", {})
    mbs = policy_update.make_micro_batches(seqs, adv, torch.ones(len(seqs)), micro_batch=8, pad_id=0, sampler=sampler)
    tot = policy_update.accumulate(
        model, mbs, sw, max_tokens=8, correction=None if cap is None else Correction(cap=cap)
    )
    return [p.grad.clone() for p in model.parameters()], tot


def test_tis_weighs_the_policy_gradient():
    from train_fixtures import small_model

    model, _ = small_model()
    seqs = [Seq(ids=[1, 5, 6, 7, 2], start=2), Seq(ids=[1, 9, 8, 4], start=2)]
    adv = torch.tensor([1.0, -1.0])
    with torch.no_grad():
        from ponder.train.batch import collate, forward_logprobs

        b = collate(seqs, 0)
        own = forward_logprobs(model, b)[0]  # (2, L-1) the trainer's logprobs of the targets
    same = [own[0, 1:4].tolist(), own[1, 1:3].tolist()]
    plain, _ = _update_grads(model, seqs, adv, None, None)
    matched, tot = _update_grads(model, seqs, adv, same, 2.0)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(plain, matched))  # ratio 1: no change
    assert tot["tis_truncated"] == 0
    far = [[x - 5.0 for x in same[0]], same[1]]  # the sampler found seq 0 far less likely
    capped, tot = _update_grads(model, seqs, adv, far, 2.0)
    assert tot["tis_truncated"] == 3  # every token of seq 0 hit the cap
    only_second, _ = _update_grads(model, seqs[1:], adv[1:], None, None)
    first, _ = _update_grads(model, seqs[:1], adv[:1], None, None)
    for c, a, s in zip(capped, first, only_second):  # seq_mean over 2 seqs: grads add, seq 0 doubled
        assert torch.allclose(c, (2.0 * a + s) / 2, atol=1e-5)


class _Recorder:
    name, n_params = "vllm:fake", 10

    def __init__(self):
        self.loads = []

    def load_weights(self, items):
        self.loads.append({k: v.clone() for k, v in items})

    def generate(self, prompts, params):
        return [[] for _ in prompts]


def test_synced_engine_pushes_after_every_k_optimiser_steps():
    model = nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    engine = _Recorder()
    gen = SyncedEngine(model, engine, every=2)
    gen.generate(["a"], None)
    assert len(engine.loads) == 1  # the first call always pushes
    gen.generate(["a"], None)
    assert len(engine.loads) == 1  # nothing changed
    for step in range(4):
        model(torch.ones(1, 3)).sum().backward()
        opt.step()
        opt.zero_grad()
        gen.generate(["a"], None)
        gen.generate(["a"], None)  # a second call in the same step changes nothing
        assert len(engine.loads) == 1 + (step + 1) // 2
    assert torch.equal(engine.loads[-1]["weight"], model.weight.detach())
