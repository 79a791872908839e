"""The training traces' self-checks are learnable and not positional: every Countdown verdict
agrees with the comparison the line writes and with the value it reached; where a line stands
does not predict its verdict; near misses are common; `wait` after a right line confirms it."""

import random
import re
from collections import defaultdict

import pytest

from ponder.steps import slip_segments, split_steps, step_body, strip_wait, think_steps
from ponder.tasks import get_task, make_problems
from ponder.tasks.countdown import _OP, _solution_steps, verdict_lines


def _countdown_traces(kind: str, n: int = 300):
    task, rng = get_task("countdown"), random.Random(11)
    for level in (3, 4):
        for p in make_problems("countdown", n, level, seed=level):
            yield p, getattr(task, kind)(p, rng)


@pytest.mark.parametrize("kind", ["trace", "trace_with_slip", "trace_with_check"])
def test_every_countdown_verdict_matches_its_comparison_and_value(kind):
    task = get_task("countdown")
    for p, resp in _countdown_traces(kind):
        assert task.check(p, resp).correct
        assert all(verdict_lines(p, resp)), resp
        for line in think_steps(resp):
            chain, target, verdict = re.fullmatch(r"(.*) vs (\d+) (yes|no)", strip_wait(line)).groups()
            value = int(_OP.match(chain.split(",")[-1])[4])
            assert int(target) == p.meta["target"] and (value == p.meta["target"]) == (verdict == "yes"), line
        bad = [s for s in split_steps(resp) if task.check_step(p, s) is False]
        assert len(bad) == (1 if kind == "trace_with_slip" else 0), resp
        assert think_steps(resp)[-1].endswith("yes")  # nothing is written after the hit but a check


def test_a_lines_position_does_not_predict_its_verdict():
    yes_at = defaultdict(list)
    for _, resp in _countdown_traces("trace", n=600):
        for k, line in enumerate(think_steps(resp)):
            yes_at[k].append(line.endswith("yes"))
    shares = [sum(v) / len(v) for k, v in sorted(yes_at.items()) if len(v) >= 150]
    assert len(shares) >= 4
    assert max(shares) - min(shares) < 0.1, shares  # v2's traces: ~0.3 at line 1, 1.0 at the last


def test_near_misses_are_a_large_share_of_the_misses():
    """Near: a value within 10 of the target, or the solution's operations with the last one
    changed. Plain random attempts are near ~25% of the time; the traces aim at half."""
    near, misses = 0, 0
    for p, resp in _countdown_traces("trace"):
        solution = _solution_steps(p.answer)
        for line in think_steps(resp):
            if line.endswith("no"):
                ops = line.split(" vs ")[0].split(",")
                value = int(_OP.match(ops[-1])[4])
                near += abs(value - p.meta["target"]) <= 10 or (ops[:-1] == solution[:-1] and len(ops) > 1)
                misses += 1
    assert misses > 500 and near / misses > 0.45, near / misses


@pytest.mark.parametrize("name", ["arithmetic", "countdown"])
def test_wait_after_a_right_line_confirms_it_and_every_token_is_trained(name):
    task, rng = get_task(name), random.Random(5)
    seen_last = 0
    for p in make_problems(name, 60, task.default_level, seed=9):
        resp = task.trace_with_check(p, rng)
        assert task.check(p, resp).correct
        steps = split_steps(resp)
        assert all(task.check_step(p, s) is not False for s in steps)
        waits = [i for i, s in enumerate(steps) if step_body(s).startswith("wait ")]
        assert len(waits) == 1 and strip_wait(step_body(steps[waits[0]])) == step_body(steps[waits[0] - 1])
        assert all(trained for _, trained in slip_segments(resp))
        seen_last += "</think>" in steps[waits[0]]
    assert 15 < seen_last < 60  # half of the confirmations check the last line (where `wait` is forced)


def test_a_slip_is_still_masked_when_a_confirmation_is_not():
    slipped = "<think>7*26=172,12+172\nwait 7*26=182,12+182\n12+182=194</think>\n<answer>194</answer>"
    assert [t for t, trained in slip_segments(slipped) if not trained] == ["7*26=172,12+172\n"]
    confirmed = "<think>7*26=182,12+182\nwait 7*26=182,12+182\n12+182=194</think>\n<answer>194</answer>"
    assert all(trained for _, trained in slip_segments(confirmed))


def test_base_training_mixes_slip_and_confirmation_traces_in_their_shares():
    from ponder.train.base import sample_examples

    tasks = {name: (get_task(name), 1.0) for name in ("arithmetic", "countdown", "equations")}
    pairs = sample_examples(random.Random(0), tasks, 600, 0.5, reflect=0.25, confirm=0.25)
    kinds = {"slip": 0, "check": 0, "plain": 0}
    for _, resp in pairs:
        steps = [step_body(s) for s in split_steps(resp)]
        waits = [i for i, s in enumerate(steps) if s.startswith("wait ")]
        if not waits:
            kinds["plain"] += 1
        else:
            same = strip_wait(steps[waits[0]]) == steps[waits[0] - 1]
            kinds["check" if same else "slip"] += 1
    # equations (a third) write neither; of the other two thirds, a quarter each
    assert 0.12 < kinds["slip"] / 600 < 0.22 and 0.12 < kinds["check"] / 600 < 0.22, kinds
