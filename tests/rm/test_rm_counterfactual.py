"""Counterfactual twins (rm/counterfactual.py) and the pairwise loss on them (rm/train.py)."""

import random

import pytest
import torch

from ponder.config import load_config
from ponder.rm.counterfactual import add_twins, make_twins, near_misses, pair_loss, perturb_step
from ponder.rm.exact import exact_labels
from ponder.rm.labels import LabeledTrace
from ponder.rm.model import from_backbone
from ponder.rm.train import RMTrainConfig, train_reward_model
from ponder.steps import split_steps
from ponder.tasks import get_task
from ponder.types import Problem

ARITH = Problem(id="a", task="arithmetic", question="2+3*4=?", answer="14", meta={"expression": "2+3*4"})
GOOD = "<think>3*4=12,2+12\n2+12=14</think>\n<answer>14</answer>"
CD = Problem(id="c", task="countdown", question="Use 16 3 19 to make 32", answer="16+19-3",
             meta={"numbers": [16, 3, 19], "target": 32})  # fmt: skip
CD_GOOD = "<think>19+16=35,35+3=38 vs 32 no\n19+16=35,35-3=32 vs 32 yes</think>\n<answer>19+16-3</answer>"


def trace(problem, text, tid="t0"):
    steps = split_steps(text)
    return LabeledTrace(tid, problem, steps, exact_labels(problem, steps, 1.0), "exact", 1.0)


def test_near_misses_are_slips_of_the_value():
    v = near_misses(1472)
    assert 1472 not in v and {1471, 1473, 1462, 1482, 1372, 1572, 1427, 4172} <= set(v)
    assert all(x >= 0 for x in near_misses(3)) and 0 in near_misses(3)
    assert {-13, -11, -21, -2} <= set(near_misses(-12)) and -12 not in near_misses(-12)


def test_result_slip_is_carried_into_the_rest_of_the_step():
    rng = random.Random(0)
    for _ in range(20):
        step, new = perturb_step("184*8=1472,1472-65\n", rng, "result")
        assert step == f"184*8={new},{new}-65\n" and new != "1472"
    step, new = perturb_step("19+16=35,35-3=32 vs 32 yes\n", random.Random(1), "verdict")
    assert step == "19+16=35,35-3=32 vs 32 no\n" and new is None
    assert perturb_step("nothing here\n", rng) is None
    assert perturb_step("12+3=15\n", rng, "verdict") is None


def test_twins_are_checker_rejected_minimal_pairs():
    rng = random.Random(0)
    orig = trace(ARITH, GOOD)
    assert orig.labels == [1.0, 1.0, 1.0]
    twins = [tw for _ in range(30) for tw in make_twins(orig, 2, rng)]
    assert twins
    task = get_task("arithmetic")
    for tw in twins:
        i = tw.meta["twin_step"]
        assert tw.meta["twin_of"] == "t0" and tw.steps[:i] == orig.steps[:i] and tw.steps[i] != orig.steps[i]
        assert task.check_step(ARITH, tw.steps[i]) is False
        assert tw.labels[:i] == [1.0] * i and tw.labels[i:] == [0.0] * (len(tw.steps) - i) and tw.outcome == 0.0
        if len(tw.steps) == i + 2:  # the answer followed the perturbed result
            assert tw.steps[-1] == f"<answer>{tw.steps[i].split('=')[1].split('<')[0]}</answer>"
    assert {tw.meta["twin_step"] for tw in twins} == {0, 1}  # never the answer step


def test_twins_stop_at_the_first_error_and_skip_other_kinds():
    bad = LabeledTrace("b", ARITH, split_steps(GOOD.replace("12", "13")), [0.0, 0.0, 0.0], "exact", 0.0)
    assert make_twins(bad, 3, random.Random(0)) == []  # no valid step to perturb
    cd = trace(CD, CD_GOOD, "c0")
    twins = make_twins(cd, 2, random.Random(3))
    assert twins and all(get_task("countdown").check_step(CD, tw.steps[-1]) is False for tw in twins)
    mc = LabeledTrace("m", ARITH, split_steps(GOOD), [1.0, 1.0, 1.0], "mc-soft", 1.0)
    assert add_twins([mc], 2, 0) == {} and add_twins([trace(ARITH, GOOD)], 0, 0) == {}
    assert set(add_twins([trace(ARITH, GOOD), mc], 1, 0)) == {"t0"}


def test_pair_loss_ranks_the_original_over_its_twin():
    orig = trace(ARITH, GOOD)
    tw = make_twins(orig, 1, random.Random(0))[0]
    i = tw.meta["twin_step"]
    a = torch.zeros(3, requires_grad=True)
    b = torch.zeros(len(tw.steps), requires_grad=True)
    with torch.no_grad():
        a[i], b[i] = 2.0, -1.0
    got = pair_loss([a, b], [orig, tw])
    assert got.item() == pytest.approx(torch.nn.functional.softplus(torch.tensor(-3.0)).item())
    got.backward()
    assert a.grad[i] < 0 < b.grad[i]  # pushes the original up and the twin down
    assert pair_loss([b], [tw]).item() == 0.0  # its original is not in the batch


def test_training_with_twins_and_pair_loss_runs_and_learns(backbone, tmp_path):
    model, tok = backbone
    copy = type(model)(model.config)
    copy.load_state_dict(model.state_dict())
    torch.manual_seed(0)
    rm = from_backbone((copy, tok), kind="prm")
    data = [trace(ARITH, GOOD, f"t{i}") for i in range(8)]
    over = {"run.out": str(tmp_path / "rm"), "run.steps": 6, "run.progress": False, "optim.lr": 2e-3,
            "optim.warmup_steps": 1, "batch_size": 4, "head_lr": 2e-2, "val_frac": 0.0, "twins": 2,
            "pair_weight": 1.0}  # fmt: skip
    cfg = load_config(RMTrainConfig, None, [f"{k}={v}" for k, v in over.items()])
    log = train_reward_model(rm, data, cfg)
    assert len(log.losses) == 6 and all(x == x for x in log.losses)
    # the loss includes the pair term: the same run without it differs
    rm2 = from_backbone((type(model)(model.config), tok), kind="prm")
    rm2.backbone.load_state_dict(model.state_dict())
    cfg2 = load_config(RMTrainConfig, None, [f"{k}={v}" for k, v in {**over, "pair_weight": 0.0,
                                                                      "run.out": str(tmp_path / "rm2")}.items()])  # fmt: skip
    assert train_reward_model(rm2, data, cfg2).losses[0] != pytest.approx(log.losses[0])


def test_heldout_reports_twin_accuracy(backbone, tmp_path):
    from ponder.rm.heldout import evaluate

    model, tok = backbone
    rm = from_backbone((model, tok), kind="prm")
    val = [trace(ARITH, GOOD, f"v{i}") for i in range(3)]
    cfg = load_config(RMTrainConfig, None, ["twins=1", "batch_size=2"])
    out = evaluate(rm, val, cfg)
    assert out["twins"] == 3 and 0.0 <= out["twin_acc"] <= 1.0
    assert "twin_acc" not in evaluate(rm, val, load_config(RMTrainConfig, None, []))


def test_natural_pairs_are_sampled_traces_that_split_at_one_step():
    from ponder.rm.counterfactual import natural_pairs

    right = trace(ARITH, GOOD, "r")
    slip = split_steps(GOOD)[:1] + ["2+12=15</think>\n", "<answer>15</answer>"]
    wrong = LabeledTrace("w", ARITH, slip, exact_labels(ARITH, slip, 0.0), "exact", 0.0)
    early = LabeledTrace("e", ARITH, split_steps(GOOD.replace("12", "13")), [0.0, 0.0, 0.0], "exact", 0.0)
    pairs = natural_pairs([right, wrong, early, trace(ARITH, GOOD, "r2")])
    assert wrong.labels == [1.0, 0.0, 0.0]
    assert sorted(pairs) == ["r"]  # r2 is the same text as r: each pair counts once
    got = {(tw.meta["twin_of"], tw.meta["twin_step"], tw.steps[-1]) for ts in pairs.values() for tw in ts}
    assert got == {("r", 1, "<answer>15</answer>"), ("r", 0, "<answer>14</answer>")}  # wrong at step 1, early at 0
    loss = pair_loss([torch.zeros(3), torch.zeros(3)], [right, pairs["r"][0]])
    assert loss.item() == pytest.approx(torch.nn.functional.softplus(torch.tensor(0.0)).item())
