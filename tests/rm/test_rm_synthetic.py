"""Synthetic step-labelled traces (rm/synthetic.py) and a verifier trained on them from scratch,
at another size than the policy (rm/train.py `synthetic`, `arch`)."""

import re

import pytest
import torch
from rm_traces import BAD, GOOD

from ponder.config import load_config
from ponder.rm.exact import exact_labels
from ponder.rm.labels import LabeledTrace
from ponder.rm.model import from_backbone, load_reward_model
from ponder.rm.synthetic import SyntheticTraces
from ponder.rm.train import RMTrainConfig, train_reward_model
from ponder.steps import is_final_step, split_steps, step_body
from ponder.tasks import get_task
from ponder.types import PonderError, Problem

_OP = re.compile(r"^(\d+)([-+*])(\d+)=(\d+)")


def _arith_ok(step: str) -> bool:
    m = _OP.match(step_body(step).removeprefix("wait "))
    return m is not None and {"+": int(m[1]) + int(m[3]), "-": int(m[1]) - int(m[3]), "*": int(m[1]) * int(m[3])}[
        m[2]
    ] == int(m[4])


def test_draws_are_a_pure_function_of_seed_and_labels_are_the_checkers():
    syn = SyntheticTraces("arithmetic", [2, 3], slip_rate=0.5)
    a, b = syn.draw(7, 40), syn.draw(7, 40)
    assert [t.steps for t in a] == [t.steps for t in b] and [t.steps for t in a] != [t.steps for t in syn.draw(8, 40)]
    task = get_task("arithmetic")
    for t in a:
        assert t.kind == "exact" and t.meta == {"synthetic": True}
        assert t.outcome == task.check(t.problem, "".join(t.steps)).value
        assert t.labels == exact_labels(t.problem, t.steps, t.outcome, task)
        assert is_final_step(t.steps[-1])
    assert {t.outcome for t in a} == {0.0, 1.0}


def test_no_slips_gives_right_traces_and_every_slip_is_carried_to_a_wrong_answer():
    right = SyntheticTraces("arithmetic", [3], slip_rate=0.0).draw(0, 30)
    assert all(t.outcome == 1.0 for t in right if not any("wait" in s for s in t.steps))
    slipped = [
        t for t in SyntheticTraces("arithmetic", [3], slip_rate=1.0).draw(1, 60) if "wait" not in "".join(t.steps)
    ]
    wrong = [t for t in slipped if t.outcome == 0.0]
    assert len(wrong) >= 0.8 * len(slipped)
    for t in wrong:
        k = t.labels.index(0.0)
        assert t.labels == [1.0] * k + [0.0] * (len(t.steps) - k)
        # after the slipped step the trace is solved right from the slipped expression, as the policy does
        assert all(_arith_ok(s) for s in t.steps[k + 1 : -1])


def test_countdown_slips_end_at_the_slipped_step():
    ts = SyntheticTraces("countdown", slip_rate=1.0).draw(3, 20)
    assert any(t.outcome == 0.0 for t in ts)
    for t in ts:
        assert t.labels == exact_labels(t.problem, t.steps, t.outcome)


def test_bad_synthetic_settings_are_clear_errors():
    with pytest.raises(PonderError, match="levels"):
        SyntheticTraces("arithmetic", [9])
    with pytest.raises(PonderError, match="slip_rate"):
        SyntheticTraces("arithmetic", slip_rate=1.5)


def _data(n=8):
    out = []
    for i in range(n):
        q = Problem(id=f"q{i}", task="arithmetic", question="2+3*4=?", answer="14", meta={"expression": "2+3*4"})
        out.append(LabeledTrace(f"g{i}", q, split_steps(GOOD), [1.0, 1.0, 1.0], "exact", 1.0))
        out.append(LabeledTrace(f"b{i}", q, split_steps(BAD), [1.0, 0.0, 0.0], "exact", 0.0))
    return out


def _cfg(tmp_path, **over) -> RMTrainConfig:
    base = {"run.out": str(tmp_path / "rm"), "run.steps": 4, "run.progress": False, "optim.warmup_steps": 1,
            "batch_size": 4, "val_frac": 0.25, "val_every": 2, "keep_best": "false"}  # fmt: skip
    return load_config(RMTrainConfig, None, [f"{k}={v}" for k, v in {**base, **over}.items()])


def test_scratch_verifier_of_another_size_trains_on_synthetic_traces_and_reloads(backbone, tmp_path):
    model, tok = backbone
    rm = from_backbone((type(model)(model.config), tok), kind="prm")
    over = {"init": "scratch", "arch": "{hidden_size: 48, num_hidden_layers: 2}", "synthetic": 6}
    log = train_reward_model(rm, _data(), _cfg(tmp_path, **over))
    assert rm.backbone.config.hidden_size == 48 and rm.backbone.config.num_hidden_layers == 2
    assert rm.head.weight.shape == (1, 48) and len(log.losses) == 4
    loaded = load_reward_model(tmp_path / "rm", kind="prm")
    enc = [loaded.encode("2+3*4=?", split_steps(GOOD))]
    assert torch.allclose(loaded(enc)[0], rm(enc)[0], atol=1e-6)
    again = from_backbone((type(model)(model.config), tok), kind="prm")  # same seed, same synthetic batches
    log2 = train_reward_model(again, _data(), _cfg(tmp_path, **{**over, "run.out": str(tmp_path / "rm2")}))
    assert log2.losses == pytest.approx(log.losses)
    plain = from_backbone((type(model)(model.config), tok), kind="prm")
    log3 = train_reward_model(
        plain, _data(), _cfg(tmp_path, **{**over, "synthetic": 0, "run.out": str(tmp_path / "r3")})
    )
    assert log3.losses != pytest.approx(log.losses)  # the synthetic traces are in the batches


def test_arch_needs_scratch_and_known_keys(backbone, tmp_path):
    model, tok = backbone
    with pytest.raises(PonderError, match="scratch"):
        train_reward_model(from_backbone(backbone, kind="prm"), _data(), _cfg(tmp_path, arch="{hidden_size: 48}"))
    with pytest.raises(PonderError, match="no 'widthness'"):
        train_reward_model(
            from_backbone(backbone, kind="prm"), _data(), _cfg(tmp_path, init="scratch", arch="{widthness: 3}")
        )


def test_reversed_digits_view_keeps_boundaries_and_is_saved_with_the_model(backbone, tmp_path):
    from ponder.rm.encode import reversed_digits

    assert reversed_digits("<think>184*8=1472,1472-65\n") == "<think>481*8=2741,2741-56\n"
    assert reversed_digits("wait 7 vs 10 no") == "wait 7 vs 01 no"
    rm = from_backbone(backbone, kind="prm")
    steps = split_steps(GOOD)
    plain = rm.encode("12+3*4=?", steps)
    rm.view = "reversed_digits"
    rev = rm.encode("12+3*4=?", steps)
    assert rev.boundaries == plain.boundaries and rev.input_ids != plain.input_ids
    text = rm.tokenizer.decode(rev.input_ids)
    assert "21+3*4=?" in text and "3*4=21,2+21" in text and "2+21=41" in text
    rm.save(tmp_path / "m")
    loaded = load_reward_model(tmp_path / "m")
    assert loaded.view == "reversed_digits" and loaded.encode("12+3*4=?", steps).input_ids == rev.input_ids
    with pytest.raises(PonderError, match="view"):
        train_reward_model(from_backbone(backbone, kind="prm"), _data(), _cfg(tmp_path, view="sideways"))


def test_onpolicy_twins_keep_the_policys_rejected_redraws_and_pair_in_training(backbone, tmp_path):
    from ponder.gen.fake import FakeGenerator
    from ponder.rm.onpolicy import onpolicy_twins

    q = Problem(id="q", task="arithmetic", question="2+3*4=?", answer="14", meta={"expression": "2+3*4"})
    good = LabeledTrace("g", q, split_steps(GOOD), [1.0, 1.0, 1.0], "exact", 1.0)
    bad = LabeledTrace("b", q, split_steps(BAD), [0.0, 0.0, 0.0], "exact", 0.0)
    redraws = {
        0: "<think>3*4=12,2+12\n",
        1: "<think>3*4=13,2+13\n",
        2: "<think>3*4=13,2+13\n",
        3: "<think>3*4=11,2+11\n",
    }
    redraws2 = {0: "2+12=14</think>\n", 1: "2+12=15</think>\n", 2: "2+12=14</think>\n", 3: "2+12=14</think>\n"}

    def script(prompt, i):
        return (redraws2 if prompt.endswith("2+12\n") else redraws)[i]

    gen = FakeGenerator(script)
    twins = onpolicy_twins(gen, [good, bad], per_trace=2, samples=4)
    assert sorted(tw.steps[-1] for tw in twins) == ["2+12=15</think>\n", "<think>3*4=11,2+11\n", "<think>3*4=13,2+13\n"]
    task = get_task("arithmetic")
    for tw in twins:  # the bad trace has no valid step: nothing re-drawn there; duplicates count once
        i = tw.meta["twin_step"]
        assert tw.meta["twin_of"] == "g" and tw.steps[:i] == good.steps[:i] and len(tw.steps) == i + 1
        assert task.check_step(q, tw.steps[i]) is False and tw.labels == [1.0] * i + [0.0]
    data = [good, bad, *twins]
    rm = from_backbone(backbone, kind="prm")
    cfg = _cfg(tmp_path, val_frac=0.0, pair_weight=1.0, batch_size=2, **{"run.steps": 1})
    from ponder.rm.train import _data_twins

    rest, paired = _data_twins(data)
    assert rest == [good, bad] and sorted(map(id, paired["g"])) == sorted(map(id, twins))
    train_reward_model(rm, data, cfg)


def test_step_lm_loss_is_the_backbones_next_token_loss_on_the_steps_only(backbone):
    model, tok = backbone
    rm = from_backbone(backbone, kind="prm")
    encs = [
        rm.encode("2+3*4=?", split_steps(GOOD)),
        rm.encode("12+3=?", split_steps("<think>12+3=15</think>\n<answer>15</answer>")),
    ]
    with torch.no_grad():
        steps, lm = rm(encs, with_lm=True)
        assert all(torch.equal(a, b) for a, b in zip(steps, rm(encs)))
        for e, got in zip(encs, lm):
            ids = torch.tensor([e.input_ids])
            logits = model(input_ids=ids).logits[0, :-1]  # predicts tokens 1..T-1
            ce = torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="none")
            assert e.prompt_tokens == len(tok(rm.tokenizer.decode(e.input_ids[: e.prompt_tokens]))["input_ids"]) > 0
            assert got.item() == pytest.approx(ce[e.prompt_tokens - 1 :].mean().item(), rel=1e-4)


def test_lm_weight_adds_the_next_token_loss_to_training(backbone, tmp_path):
    model, tok = backbone
    runs = []
    for w in (0.0, 1.0):
        rm = from_backbone((type(model)(model.config), tok), kind="prm")
        runs.append(
            train_reward_model(rm, _data(), _cfg(tmp_path, lm_weight=w, **{"run.out": str(tmp_path / f"w{w}")}))
        )
    assert runs[1].losses[0] > runs[0].losses[0] + 1.0  # a next-token loss over ~100 tokens starts near log V


def test_result_lm_readout_is_the_backbones_probability_of_each_steps_result_digits(backbone, tmp_path):
    from ponder.rm.readout import result_positions

    toks = list("<b>12+3=15,4*2=8\n")
    assert [toks[i] for i in result_positions(toks, 0)] == ["1", "5", "8"]
    model, tok = backbone
    rm = from_backbone(backbone, kind="prm")
    steps = split_steps("<think>3*4=12,2+12\n2+12=14</think>\n<answer>14</answer>")
    enc = rm.encode("2+3*4=?", steps)
    with torch.no_grad():
        got = torch.sigmoid(rm([enc], readout="result_lm")[0])
        logp = torch.log_softmax(model(input_ids=torch.tensor([enc.input_ids])).logits[0], -1)
    tokens = tok.convert_ids_to_tokens(enc.input_ids)
    want = [0.0] * len(steps)
    for p in result_positions(tokens, enc.prompt_tokens):
        want[next(j for j, b in enumerate(enc.boundaries) if p <= b)] += logp[p - 1, enc.input_ids[p]].item()
    assert want[0] < 0 and want[1] < 0 and want[2] == 0.0  # the answer step has no `=`
    assert got.tolist() == pytest.approx([min(torch.tensor(w).exp().item(), 1 - 1e-6) for w in want], rel=1e-4)
    rm.readout = "result_lm"
    rm.save(tmp_path / "m")
    loaded = load_reward_model(tmp_path / "m")
    assert loaded.readout == "result_lm"
    with torch.no_grad():
        assert torch.allclose(torch.sigmoid(loaded([enc])[0]), got, atol=1e-5)
        assert not torch.allclose(loaded([enc], readout="head")[0], loaded([enc])[0])
    with pytest.raises(PonderError, match="readout"):
        train_reward_model(from_backbone(backbone, kind="prm"), _data(), _cfg(tmp_path, readout="elsewhere"))
