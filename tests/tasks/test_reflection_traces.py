"""Countdown verdict lines show their comparison and are checked; reflection traces (a slip, then
`wait` and the step redone) check step by step, and their slipped step is excluded from the loss."""

import random

import pytest
import torch

from ponder.models.tiny.build import build_tokenizer
from ponder.steps import slip_segments, split_steps, strip_wait
from ponder.tasks import detect_task, get_task, make_problems
from ponder.tasks.countdown import verdict_lines
from ponder.train.batch import collate, encode_example, encode_segments, pack


def test_countdown_comparison_is_checked_and_old_lines_still_parse():
    cd = detect_task("countdown 3 7 12 -> 45")
    task = get_task("countdown")
    assert task.check_step(cd, "7+12=19,19*3=57≠45 no") is True
    assert task.check_step(cd, "3+12=15,12*3=36≠45 no") is False  # 3 used twice
    assert task.check_step(cd, "7+12=19,19*3=57=45 yes") is False  # 57 is not 45
    assert task.check_step(cd, "7+12=19,19*3=57≠46 no") is False  # target copied wrong
    assert task.check_step(cd, "7+12=19,19*3=57≠45 yes") is False  # verdict contradicts ≠
    assert task.check_step(cd, "7+12=19≠45,19*3=57 no") is False  # comparison only at the end
    assert task.check_step(cd, "12+3=15,15*3=45=45 yes") is False  # 3 used twice
    assert task.check_step(cd, "wait 7+12=19,19*3=57≠45 no") is True
    assert task.check_step(cd, "7+12=19,19*3=57 no") is True  # the tiny-v1 format
    assert task.check_step(cd, "7+12=19,19*3=57 yes") is False
    assert task.check_step(cd, "7+12=19,19*3=57 vs 45 no") is True  # today's format: target before verdict
    assert task.check_step(cd, "3*12=36,36+7=43 vs 45 no") is True
    assert task.check_step(cd, "12*3=36,36+7=43 vs 45 yes") is False  # 43 is not 45
    assert task.check_step(cd, "7+12=19,19*3=57 vs 57 yes") is False  # target copied wrong (the value)
    assert task.check_step(cd, "7+12=19,19*3=57≠45 vs 45 no") is False  # two comparisons
    assert task.check_step(cd, "wait 3*12=36,36+7=43 vs 45 no") is True


def test_verdict_lines_judge_the_value_written():
    cd = detect_task("countdown 3 7 12 -> 45")
    resp = "<think>7+12=19,19*3=57≠45 no\n7+12=19,19*3=57 yes\n3*12=36,36+7=43=45 yes</think>\n<answer>1</answer>"
    assert verdict_lines(cd, resp) == [True, False, False]
    resp = "<think>7+12=19,19*3=57 vs 45 no\n3*12=36,36+7=43 vs 43 yes\n12*3=36,36+7=43 vs 45 yes</think>"
    assert verdict_lines(cd, resp) == [True, False, False]  # judged on the value, not the copied target


@pytest.mark.parametrize("name", ["arithmetic", "countdown"])
def test_slip_traces_check_except_the_slip_and_answer_right(name):
    task = get_task(name)
    rng = random.Random(0)
    for p in make_problems(name, 30, task.default_level, seed=3):
        resp = task.trace_with_slip(p, rng)
        assert task.check(p, resp).correct
        steps = split_steps(resp)
        checks = [task.check_step(p, s) for s in steps]
        bad = [i for i, ok in enumerate(checks) if ok is False]
        assert len(bad) == 1 and strip_wait(steps[bad[0] + 1].strip()) != steps[bad[0] + 1].strip()
        untrained = [s for s, trained in slip_segments(resp) if not trained]
        slip = steps[bad[0]].replace("<think>", "")
        if name == "countdown":  # the comparison ` vs T no` of the slipped line stays trained
            assert untrained == [slip[: slip.rindex(" vs ")]]
        else:
            assert untrained == [slip]
        if name == "countdown":
            assert all(verdict_lines(p, resp))
        plain = task.trace(p, rng)
        assert all(task.check_step(p, s) is not False for s in split_steps(plain)) and "wait" not in plain


def test_slipped_tokens_get_no_loss_in_padded_and_packed_batches():
    tok = build_tokenizer()
    resp = "<think>7*26=172,12+172\nwait 7*26=182,12+182\n12+182=194</think>\n<answer>194</answer>"
    seq = encode_segments(tok, "<bos>12+7*26=?\n", slip_segments(resp), eos=True)
    plain = encode_example(tok, "<bos>12+7*26=?\n", resp, eos=True)
    assert seq.ids == plain.ids and seq.start == plain.start
    masked = len("7*26=172,12+172\n")
    for batch in (collate([seq, plain], 0), pack([seq, plain], 0, 256)):
        assert batch.loss_mask.sum().item() == 2 * (len(plain.ids) - plain.start) - masked
    row = collate([seq], 0).loss_mask[0]
    first = seq.start  # `<think>` is trained; the slipped line after it is not
    assert row[first - 1] == 1 and torch.all(row[first : first + masked] == 0) and row[first + masked] == 1
