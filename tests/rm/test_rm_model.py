"""The PRM/ORM network on a random tiny backbone: alignment, save/load, scorers, a few training steps."""

import pytest
import torch
from rm_traces import BAD, GOOD

from ponder.config import load_config
from ponder.rm.labels import LabeledTrace
from ponder.rm.model import from_backbone, load_reward_model
from ponder.rm.scorers import ORMScorer, PRMScorer
from ponder.rm.train import RMTrainConfig, masked_bce, train_reward_model
from ponder.steps import split_steps
from ponder.types import PonderError, Problem

P = Problem(id="p0", task="arithmetic", question="2+3*4=?", answer="14")


def fresh(backbone, kind="prm"):
    model, tok = backbone
    copy = type(model)(model.config)
    copy.load_state_dict(model.state_dict())
    return from_backbone((copy, tok), kind=kind)


def test_k_steps_in_k_scores_out(backbone):
    rm = fresh(backbone)
    scorer = PRMScorer(rm, batch_size=2)
    steps = [split_steps(GOOD), split_steps(BAD)[:2], split_steps(GOOD)[:1]]
    out = scorer.score_steps([P, P, P], steps)
    assert [len(o) for o in out] == [3, 2, 1]
    assert all(0 < x < 1 for o in out for x in o)
    # batching and padding do not change a trace's scores; a prefix's scores are the trace's first scores
    alone = scorer.score_steps([P], [split_steps(GOOD)])[0]
    assert out[0] == pytest.approx(alone, abs=1e-5)
    assert out[2] == pytest.approx(alone[:1], abs=1e-5)
    assert scorer.tokens_scored > 0 and scorer.n_params == rm.n_params


def test_misaligned_steps_are_errors(backbone):
    scorer = PRMScorer(fresh(backbone))
    with pytest.raises(PonderError, match="no steps"):
        scorer.score_steps([P], [[]])
    with pytest.raises(PonderError, match="does not end with"):
        scorer.score_steps([P], [["<think>3*4=12 ", "2+12=14"]])  # steps split at another delimiter
    with pytest.raises(PonderError, match="inside it"):
        scorer.score_steps([P], [["<think>3*4=12\n2+12=14\n", "<answer>14</answer>"]])
    with pytest.raises(PonderError, match="1 problems but 2"):
        scorer.score_steps([P], [["a"], ["b"]])
    model, tok = backbone
    with pytest.raises(PonderError, match="no tokenizer"):
        from_backbone((model, None))


def test_too_long_trace_is_an_error_not_a_truncation(backbone):
    scorer = PRMScorer(fresh(backbone))
    with pytest.raises(PonderError, match="never dropped"):
        scorer.score_steps([P], [["1+1=2\n"] * 200])


def test_save_load_roundtrip_and_delimiter_check(backbone, tmp_path):
    rm = fresh(backbone)
    with torch.no_grad():
        rm.head.bias.fill_(0.7)
    rm.save(tmp_path / "prm")
    loaded = load_reward_model(tmp_path / "prm", kind="prm", delimiter="\n")
    a = PRMScorer(rm).score_steps([P], [split_steps(GOOD)])[0]
    b = PRMScorer(loaded).score_steps([P], [split_steps(GOOD)])[0]
    assert a == pytest.approx(b, abs=1e-6)
    with pytest.raises(PonderError, match="trained with step delimiter"):
        load_reward_model(tmp_path / "prm", delimiter="\n\n")
    with pytest.raises(PonderError, match="not an ORM"):
        ORMScorer.load(tmp_path / "prm")
    with pytest.raises(PonderError, match="not a ponder reward model"):
        load_reward_model(tmp_path)


def test_scorer_registry_and_aggregation(backbone, tmp_path):
    from ponder.search import SCORERS

    fresh(backbone).save(tmp_path / "prm")
    with pytest.raises(PonderError, match="scorer-options.path=FOLDER"):
        SCORERS.build("prm", gen=None)
    s = SCORERS.build("prm", gen=None, path=str(tmp_path / "prm"), agg="product")
    per_step = s.score_steps([P], [split_steps(GOOD)])[0]
    assert s.score([P], [GOOD])[0] == pytest.approx(torch.tensor(per_step).prod().item(), rel=1e-5)


def test_masked_bce_golden():
    logits = torch.tensor([0.0, 100.0, -3.0])
    targets = torch.tensor([1.0, 1.0, 0.5])
    mask = torch.tensor([1.0, 1.0, 0.0])
    assert masked_bce(logits, targets, mask).item() == pytest.approx(0.693147 / 2, rel=1e-4)


def _rm_cfg(tmp_path, **over) -> RMTrainConfig:
    base = {"run.out": str(tmp_path / "rm"), "run.steps": 20, "run.progress": False, "optim.lr": 2e-3}
    base["optim.warmup_steps"] = 1
    return load_config(RMTrainConfig, None, [f"{k}={v}" for k, v in {**base, **over}.items()])


def _traces(n=12):
    good, bad = split_steps(GOOD), split_steps(BAD)
    out = []
    for i in range(n):
        q = Problem(id=f"q{i}", task="arithmetic", question=f"2+3*4=? #{i}", answer="14")
        out.append(LabeledTrace(f"g{i}", q, good, [1.0, 1.0, 1.0], "exact", 1.0))
        out.append(LabeledTrace(f"b{i}", q, bad, [0.0, 0.0, 0.0], "exact", 0.0))
    return out


@pytest.mark.parametrize("kind", ["prm", "orm"])
def test_training_lowers_loss_and_changes_scores(backbone, kind, tmp_path):
    rm = fresh(backbone, kind)
    traces = _traces()
    scorer = PRMScorer(rm) if kind == "prm" else ORMScorer(rm)
    before = scorer.score([P, P], [GOOD, BAD])
    cfg = _rm_cfg(tmp_path, kind=kind, batch_size=8, head_lr=2e-2, val_frac=0.25, val_every=20)
    log = train_reward_model(rm, traces, cfg)
    after = scorer.score([P, P], [GOOD, BAD])
    assert sum(log.losses[-5:]) / 5 < sum(log.losses[:5]) / 5
    assert after != pytest.approx(before, abs=1e-4)
    assert after[0] > after[1]  # it learned to prefer the correct trace
    assert log.val and log.val[-1]["val_loss"] < 0.69


def test_training_rejects_wrong_kind_and_delimiter(backbone, tmp_path):
    rm = fresh(backbone, "prm")
    with pytest.raises(PonderError, match="kind"):
        train_reward_model(rm, _traces(2), _rm_cfg(tmp_path, kind="orm"))
    t = _traces(2)
    t[0].delimiter = ";"
    with pytest.raises(PonderError, match="delimiter"):
        train_reward_model(rm, t, _rm_cfg(tmp_path))


def test_rm_kill_and_resume_matches_unbroken_run(backbone, tmp_path, monkeypatch):
    """Reward-model training runs on the shared loop, so a killed run resumes exactly."""
    import ponder.rm.train as rm_train

    traces = _traces(6)

    def seeded():  # the head's initial weights come from the global torch RNG
        torch.manual_seed(0)
        return fresh(backbone, "prm")

    rm_a = seeded()
    train_reward_model(rm_a, traces, _rm_cfg(tmp_path / "a", **{"run.steps": 4, "run.save_every": 2}))
    real, calls = rm_train.rm_step, []

    def dies_in_step_3(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(rm_train, "rm_step", dies_in_step_3)
    cfg_b = _rm_cfg(tmp_path / "b", **{"run.steps": 4, "run.save_every": 2})
    with pytest.raises(KeyboardInterrupt):
        train_reward_model(seeded(), traces, cfg_b)
    monkeypatch.setattr(rm_train, "rm_step", real)
    rm_b = seeded()
    log = train_reward_model(rm_b, traces, cfg_b)
    assert len(log.losses) == 4
    for a, b in zip(rm_a.state_dict().values(), rm_b.state_dict().values()):
        assert torch.equal(a, b)
    assert load_reward_model(tmp_path / "b" / "rm", kind="prm").head.weight.equal(rm_b.head.weight)


@pytest.mark.parametrize("strategy", ["best_of_n", "beam"])
def test_prm_plugs_into_search(backbone, strategy):
    from ponder.gen.fake import FakeGenerator
    from ponder.search import run_search

    def script(prompt: str, i: int) -> str:
        """Sample i continues GOOD (even i) or BAD (odd i) from whatever prefix it is given."""
        prefix = prompt[len(P.question) + 1 :]
        for full in (GOOD, BAD) if i % 2 == 0 else (BAD, GOOD):
            if full.startswith(prefix):
                return full[len(prefix) :]
        return ""

    gen = FakeGenerator(script)
    scorer = PRMScorer(fresh(backbone))
    (res,) = run_search(strategy, [P], gen, budget=4, scorer=scorer, **({"width": 2} if strategy == "beam" else {}))
    assert res.response and res.cost.scorer_tokens > 0


def test_prm_trains_in_bf16_with_checkpointing(backbone, tmp_path):
    """The shared train: block reaches reward-model training: bf16 autocast + checkpointing on
    the backbone, loss falls, head weights stay fp32."""
    rm = fresh(backbone, "prm")
    cfg = _rm_cfg(tmp_path, kind="prm", batch_size=8, head_lr=2e-2, val_frac=0.25, val_every=20)
    cfg.train.precision, cfg.train.grad_checkpointing = "bf16", True
    log = train_reward_model(rm, _traces(), cfg)
    assert sum(log.losses[-5:]) / 5 < sum(log.losses[:5]) / 5
    assert rm.backbone.is_gradient_checkpointing and next(rm.head.parameters()).dtype == torch.float32
