"""One learned verifier shared by search, data and RL: a PRM trained once with `ponder train prm`
and loaded by path as the search scorer, the `ponder data` steps filter, the registered `prm`
GRPO reward and GRPO's process advantages — all four read the same step scores."""

import json

import pytest
import torch
from train_fixtures import accuracy_is_one, grpo_config, small_model

from ponder.cli import main
from ponder.gen.fake import FakeGenerator
from ponder.rm.labels import LabeledTrace
from ponder.rm.scorers import PRMScorer
from ponder.steps import split_steps
from ponder.types import PonderError, Problem
from ponder.verify.rewards import call_reward, get_reward


def flat(rows):
    return [x for r in rows for x in r]


P = Problem(id="p0", task="arithmetic", question="2+3*4=?", answer="14")
GOOD = "<think>3*4=12,2+12\n2+12=14</think>\n<answer>14</answer>"
BAD = "<think>3*4=13,2+13\n2+13=15</think>\n<answer>15</answer>"


@pytest.fixture(scope="module")
def prm_folder(tmp_path_factory) -> str:
    """A PRM trained for three steps by the CLI on a random tiny backbone."""
    tmp = tmp_path_factory.mktemp("prm")
    model, tok = small_model()
    model.save_pretrained(tmp / "bb")
    tok.save_pretrained(tmp / "bb")
    recs = []
    for i in range(6):
        q = Problem(id=f"q{i}", task="arithmetic", question=f"2+3*4=? #{i}", answer="14")
        recs.append(LabeledTrace(f"g{i}", q, split_steps(GOOD), [1.0, 1.0, 1.0], "exact", 1.0))
        recs.append(LabeledTrace(f"b{i}", q, split_steps(BAD), [0.0, 0.0, 0.0], "exact", 0.0))
    (tmp / "labels.jsonl").write_text("".join(json.dumps(r.to_dict()) + "\n" for r in recs))
    args = ["train", "prm", f"--data={tmp / 'labels.jsonl'}", f"--backbone={tmp / 'bb'}", f"--run.out={tmp / 'prm'}",
            "--run.steps=3", "--run.progress=false", "--batch_size=4", "--val_frac=0"]  # fmt: skip
    assert main(args) == 0
    return str(tmp / "prm")


def test_one_prm_folder_in_search_data_and_grpo(prm_folder, tmp_path, monkeypatch):
    from ponder.data.build import step_scorer
    from ponder.data.filters import FILTERS, FilterContext
    from ponder.search import SCORERS, run_search

    direct = PRMScorer.load(prm_folder).score_steps([P, P], [split_steps(GOOD), split_steps(BAD)])
    # search: the registered scorer by path
    search = SCORERS.build("prm", gen=None, path=prm_folder)
    assert flat(search.score_steps([P, P], [split_steps(GOOD), split_steps(BAD)])) == pytest.approx(flat(direct))
    (res,) = run_search("best_of_n", [P], FakeGenerator([GOOD, BAD]), budget=2, scorer="prm",
                        scorer_options={"path": prm_folder})  # fmt: skip
    assert res.cost.scorer_tokens > 0
    # data: the steps filter with --prm, at a threshold between the two traces' lowest step scores
    recs = [{"problem_id": "p0", "response": GOOD}, {"problem_id": "p0", "response": BAD}]
    assert flat(step_scorer(prm_folder, {"p0": P})(recs)) == pytest.approx(flat(direct))
    lo, hi = sorted([min(direct[0]), min(direct[1])])
    ctx = FilterContext(step_threshold=(lo + hi) / 2, score_steps=step_scorer(prm_folder, {"p0": P}))
    assert FILTERS.get("steps")(recs, ctx) == [r for r, d in zip(recs, direct) if min(d) == hi]
    # RL: the registered `prm` reward (TRL's contract) and its step scores for process advantages
    reward = get_reward("prm", path=prm_folder, agg="min", weight=2.0, outcome="accuracy")
    values = call_reward(reward, [P.question] * 2, [GOOD, BAD], [P, P])
    assert values == pytest.approx([1.0 + 2 * min(direct[0]), 0.0 + 2 * min(direct[1])], abs=1e-6)
    steps = reward.step_scores([P.question], [GOOD], question=[P.question])
    assert steps[0][0] == split_steps(GOOD) and steps[0][1] == pytest.approx(direct[0], abs=1e-6)
    # GRPO with the PRM as reward and as process advantages, by path: one step changes the policy
    model, tok = small_model()
    before = [p.detach().clone() for p in model.parameters()]
    cfg = grpo_config(tmp_path, steps=1, reward="prm", prm=prm_folder,
                      **{"reward_options.path": prm_folder, "algo.process_coef": 0.5})  # fmt: skip
    from ponder.train import grpo as grpo_mod

    seen, real = [], grpo_mod.policy_update.update
    monkeypatch.setattr(grpo_mod.policy_update, "update", lambda *a, **k: seen.append(a[5]) or real(*a, **k))
    grpo_mod.train_grpo(
        cfg, model=model, tokenizer=tok, generator=FakeGenerator([GOOD, BAD]), accuracy_fn=accuracy_is_one
    )
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert seen and seen[0].dim() == 2  # per-token advantages: the PRM's process supervision is on


def test_orm_reward_and_missing_folder(tmp_path):
    from ponder.rm.model import from_backbone

    from_backbone(small_model(), kind="orm").save(tmp_path / "orm")
    reward = get_reward("orm", path=str(tmp_path / "orm"), weight=1.0)
    (value,) = call_reward(reward, [P.question], [GOOD], [P])
    assert 0 < value < 1
    with pytest.raises(PonderError, match="reward-options.path=FOLDER"):
        get_reward("prm")
