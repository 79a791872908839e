"""Reward-model training options: targets (outcome blend, class balance), early stopping that
keeps the best held-out model, a frozen or re-initialised backbone, and best-of-n selection
metrics for choosing the aggregation on held-out data."""

import json
import math

import pytest
import torch
from rm_traces import BAD, GOOD

from ponder.config import load_config
from ponder.rm.best import BestKeeper
from ponder.rm.labels import LabeledTrace
from ponder.rm.model import from_backbone, load_reward_model
from ponder.rm.quality import best_of_n_accuracy, pick_aggregation
from ponder.rm.targets import blend_outcome, class_weights, position_weights, targets_of
from ponder.rm.train import RMTrainConfig, masked_bce, train_reward_model
from ponder.steps import split_steps
from ponder.types import PonderError, Problem


def fresh(backbone):
    model, tok = backbone
    copy = type(model)(model.config)
    copy.load_state_dict(model.state_dict())
    torch.manual_seed(0)
    return from_backbone((copy, tok), kind="prm")


def _traces(n=12):
    out = []
    for i in range(n):
        q = Problem(id=f"q{i}", task="arithmetic", question=f"2+3*4=? #{i}", answer="14")
        out.append(LabeledTrace(f"g{i}", q, split_steps(GOOD), [1.0, 1.0, 1.0], "exact", 1.0))
        out.append(LabeledTrace(f"b{i}", q, split_steps(BAD), [1.0, 0.0, 0.0], "exact", 0.0))
    return out


def _cfg(tmp_path, **over) -> RMTrainConfig:
    base = {"run.out": str(tmp_path / "rm"), "run.steps": 12, "run.progress": False, "optim.lr": 2e-3,
            "optim.warmup_steps": 1, "batch_size": 8, "head_lr": 2e-2, "val_frac": 0.25, "val_every": 2}  # fmt: skip
    return load_config(RMTrainConfig, None, [f"{k}={v}" for k, v in {**base, **over}.items()])


def test_blend_outcome_and_targets():
    assert blend_outcome([1.0, None, 0.0], 0.0, 0.25) == [0.75, None, 0.0]
    assert blend_outcome([1.0, 0.5], 1.0, 0.0) == [1.0, 0.5]
    with pytest.raises(PonderError, match=r"\[0, 1\]"):
        blend_outcome([1.0], 1.0, 1.5)
    t = _traces(1)[1]  # labels [1, 0, 0], outcome 0
    assert targets_of(t, "prm", hard=False, outcome_weight=0.5) == [0.5, 0.0, 0.0]
    assert targets_of(t, "prm", hard=True, outcome_weight=0.5) == [1.0, 0.0, 0.0]  # 0.5 thresholds to valid
    assert targets_of(t, "orm", hard=False, outcome_weight=0.5) == [None, None, 0.0]
    t.outcome = None
    with pytest.raises(PonderError, match="verified outcome"):
        targets_of(t, "prm", hard=False, outcome_weight=0.5)


def test_class_weights_give_each_class_half_the_loss():
    targets = [[1.0, 1.0, 1.0], [1.0, 0.0, None]]  # 4 valid, 1 error of 5 labelled
    wv, we = class_weights(targets)
    assert (wv, we) == pytest.approx((5 / 8, 5 / 2))
    w = [position_weights(t, (wv, we)) for t in targets]
    assert w[1] == pytest.approx([5 / 8, 5 / 2, 0.0])
    assert sum(x for row, t in zip(w, targets) for x, v in zip(row, t) if v == 1.0) == pytest.approx(2.5)
    assert class_weights([[1.0, None]]) == (1.0, 1.0)  # one class only: unweighted


def test_weighted_bce_golden():
    logits, targets = torch.tensor([0.0, 100.0, 0.0]), torch.tensor([1.0, 1.0, 0.0])
    w = torch.tensor([2.0, 1.0, 0.5])  # per-position loss weights
    expect = (2 * math.log(2) + 0 + 0.5 * math.log(2)) / 3.5
    assert masked_bce(logits, targets, w).item() == pytest.approx(expect, rel=1e-5)
    assert masked_bce(logits, targets, w, total=7.0).item() == pytest.approx(expect / 2, rel=1e-5)


def test_best_keeper_saves_only_improvements_and_counts_patience(tmp_path):
    saved = []

    def save(folder):
        folder.mkdir(parents=True)
        (folder / "w").write_text(str(len(saved)))
        saved.append(folder)

    k = BestKeeper(tmp_path, patience=2, every=10)
    assert k.update(10, 0.6, save) and not k.update(20, 0.7, save) and k.update(30, 0.5, save)
    assert len(saved) == 2 and (tmp_path / "best" / "w").read_text() == "1"
    assert not k.exhausted(40) and k.exhausted(50)
    again = BestKeeper(tmp_path, patience=2, every=10)  # a resumed run remembers the best so far
    assert (again.step, again.loss) == (30, 0.5) and not again.update(60, 0.55, save)
    assert not BestKeeper(tmp_path / "x", patience=0).exhausted(10**6)


def test_training_keeps_the_best_held_out_model_and_stops_on_a_plateau(backbone, tmp_path):
    rm = fresh(backbone)
    cfg = _cfg(tmp_path, **{"run.steps": 40, "optim.lr": 3e-2, "head_lr": 3e-1, "patience": 2})  # lr high: it overfits
    log = train_reward_model(rm, _traces(), cfg)
    vals = [v["val_loss"] for v in log.val]
    best = min(range(len(vals)), key=lambda i: (vals[i], i))
    assert log.best_step == log.val[best]["step"]
    info = json.loads((tmp_path / "rm" / "best" / "best.json").read_text())
    assert info == {"step": log.best_step, "val_loss": pytest.approx(vals[best])}
    if len(log.losses) < 40:  # stopped early: exactly `patience` evaluations after the best
        assert len(log.losses) == log.best_step + 2 * cfg.val_every
    loaded = load_reward_model(tmp_path / "rm", kind="prm")  # the run folder loads its best model
    assert loaded.head.weight.equal(rm.head.weight)
    for a, b in zip(loaded.backbone.state_dict().values(), rm.backbone.state_dict().values()):
        assert torch.equal(a, b)


def test_keep_best_false_keeps_the_last(backbone, tmp_path):
    rm = fresh(backbone)
    log = train_reward_model(rm, _traces(), _cfg(tmp_path, keep_best="false"))
    assert log.best_step is None and not (tmp_path / "rm" / "best").exists()
    assert len(log.losses) == 12


def test_frozen_backbone_trains_only_the_head(backbone, tmp_path):
    rm = fresh(backbone)
    before = {k: v.clone() for k, v in rm.backbone.state_dict().items()}
    head = rm.head.weight.clone()
    train_reward_model(rm, _traces(), _cfg(tmp_path, freeze_backbone="true", keep_best="false"))
    assert all(torch.equal(before[k], v) for k, v in rm.backbone.state_dict().items())
    assert not rm.head.weight.equal(head)


def test_scratch_init_replaces_the_policy_weights(backbone, tmp_path):
    rm = fresh(backbone)
    emb = rm.backbone.get_input_embeddings().weight.clone()
    over = {
        "init": "scratch",
        "freeze_backbone": "true",
        "keep_best": "false",
        "run.seed": 5,
    }  # the fixture drew seed 0
    train_reward_model(rm, _traces(), _cfg(tmp_path, **over))
    assert not torch.allclose(rm.backbone.get_input_embeddings().weight, emb)


def test_best_of_n_accuracy_and_aggregation_choice():
    scores = [[0.2, 0.9, 0.9], [0.5, 0.1]]
    correct = [[False, True, False], [False, True]]
    assert best_of_n_accuracy(scores, correct) == 0.5  # ties go to the first sample
    with pytest.raises(PonderError, match="one per sample"):
        best_of_n_accuracy([[0.1]], [[True, False]])
    # sample 0: one bad step late (min punishes it), sample 1: uniformly middling
    steps = [[[0.9, 0.9, 0.1], [0.6, 0.6, 0.6]]]
    agg, acc = pick_aggregation(steps, [[False, True]])
    assert acc == {"last": 1.0, "min": 1.0, "product": 1.0, "mean": 0.0} and agg == "last"
    assert pick_aggregation(steps, [[True, False]], ("min", "mean")) == ("mean", {"min": 0.0, "mean": 1.0})


def test_choose_aggregation_uses_problems_with_several_verified_samples():
    from ponder.rm.heldout import choose_aggregation

    t = _traces(3)  # problems q0..q2, a right and a wrong trace each
    t.append(
        LabeledTrace(
            "lone", Problem(id="q9", task="arithmetic", question="1+1=?", answer="2"), ["2"], [1.0], "exact", 1.0
        )
    )
    probs = [[0.9, 0.9, 0.2], [0.25, 0.25, 0.99]] * 3 + [[0.5]]  # right: one low step; wrong: two
    agg, acc = choose_aggregation(probs, t)
    assert acc == {"last": 0.0, "min": 0.0, "product": 1.0, "mean": 1.0} and agg == "product"
    assert choose_aggregation([[0.5]], t[-1:]) == (None, {})


def test_auto_aggregation_is_saved_with_the_prm_and_used_by_its_scorer(backbone, tmp_path):
    from ponder.rm.scorers import PRMScorer
    from ponder.search.aggregate import AGGREGATIONS

    rm = fresh(backbone)
    train_reward_model(rm, _traces(), _cfg(tmp_path))
    saved = json.loads((tmp_path / "rm" / "best" / "rm_config.json").read_text())
    assert rm.agg in AGGREGATIONS and saved["agg"] == rm.agg
    assert PRMScorer.load(tmp_path / "rm").agg == rm.agg
    assert PRMScorer.load(tmp_path / "rm", agg="mean").agg == "mean"
    rm2 = fresh(backbone)
    train_reward_model(rm2, _traces(), _cfg(tmp_path / "fixed", agg="last"))
    assert rm2.agg == "last" and PRMScorer(rm2).agg == "last"
    with pytest.raises(PonderError, match="agg must be auto"):
        train_reward_model(fresh(backbone), _traces(), _cfg(tmp_path / "bad", agg="max"))


def test_probe_fit_keeps_the_best_head_and_stops_on_a_plateau(tmp_path):
    from ponder.rm.probe import fit_head

    torch.manual_seed(0)
    x = torch.randn(64, 4)
    y = (x[:, 0] > 0).float()
    xv, yv = torch.randn(32, 4), None
    yv = 1.0 - (xv[:, 0] > 0).float()  # held-out labels flipped: held-out loss only rises
    head = torch.nn.Linear(4, 1)
    cfg = _cfg(tmp_path, **{"run.steps": 200, "head_lr": 0.1, "val_every": 5, "patience": 3})
    start = {k: v.clone() for k, v in head.state_dict().items()}
    fit = fit_head(head, (x, y, torch.ones(64)), (xv, yv, torch.ones(32)), cfg)
    assert fit["losses"][-1] < fit["losses"][0]
    assert fit["best_step"] == 5 and len(fit["losses"]) == 5 + 3 * 5  # stopped 3 checks after the best
    assert not head.weight.equal(start["weight"])  # the step-5 head, not the initial one
    assert fit["val"][0]["val_loss"] == min(v["val_loss"] for v in fit["val"])


def test_frozen_backbone_probe_saves_a_loadable_prm(backbone, tmp_path):
    from ponder.rm.scorers import PRMScorer

    rm = fresh(backbone)
    log = train_reward_model(rm, _traces(), _cfg(tmp_path, freeze_backbone="true", **{"run.steps": 60}))
    info = json.loads((tmp_path / "rm" / "probe.json").read_text())
    assert info["agg"] == rm.agg and log.best_step == info["best_step"]
    loaded = PRMScorer.load(tmp_path / "rm")
    assert loaded.model.head.weight.equal(rm.head.weight) and loaded.agg == rm.agg
    good, bad = PRMScorer(rm).score([_traces(1)[0].problem] * 2, [GOOD, BAD])
    assert good > bad  # the probe separates the right trace from the wrong one
