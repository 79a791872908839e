"""On-policy corrections (tasks/corrections.py): whatever a model wrote — wrong verdicts, a wrong
target copied, slipped arithmetic, numbers it does not have, repeats, garbage — the corrected
trace's every verdict is right about the value its line reached, its answer solves the problem,
and exactly the chains whose arithmetic is wrong are untrained (their comparison is trained)."""

import random

from ponder.steps import think_steps
from ponder.tasks import get_task, make_problems
from ponder.tasks.corrections import correct_arithmetic, correct_countdown, countdown_ops, pieces_text
from ponder.tasks.countdown import random_attempt, verdict_lines


def _model_line(rng: random.Random, p) -> str:
    """A line as a model might write it."""
    numbers, target = p.meta["numbers"], p.meta["target"]
    steps, value, _ = random_attempt(rng, numbers, max_ops=len(numbers) - 1)
    if rng.random() < 0.3:  # a slip: the last result off by one, or a number it does not have
        a, rest = steps[-1].split("=")
        steps[-1] = f"{a}={int(rest) + 1}" if rng.random() < 0.5 else "99+1=100"
    copied = target if rng.random() < 0.8 else target + 1
    verdict = rng.choice(["yes", "no"])
    sep = rng.choice([" vs ", "≠", "="])
    wait = "wait " if rng.random() < 0.1 else ""
    return f"{wait}{','.join(steps)}{sep}{copied} {verdict}"


def _model_response(rng, p) -> str:
    lines = [_model_line(rng, p) for _ in range(rng.randint(1, 7))]
    if rng.random() < 0.3:
        lines.insert(rng.randrange(len(lines)), lines[0])  # a repeat
    if rng.random() < 0.2:
        lines.append("garbage +=")
    return "<think>" + "\n".join(lines) + "</think>\n<answer>1+2</answer>"


def test_countdown_corrections_judge_every_line_right_and_mask_only_wrong_arithmetic():
    task, rng = get_task("countdown"), random.Random(5)
    masked, empty = 0, 0
    for level in (3, 4):
        for p in make_problems("countdown", 300, level, seed=level):
            pieces = correct_countdown(p, _model_response(rng, p))
            if pieces is None:  # its first line reached the target by wrong arithmetic: nothing to keep
                empty += 1
                continue
            text = pieces_text(pieces)
            assert task.check(p, text).correct, text
            assert all(verdict_lines(p, text)), text
            assert all(f" vs {p.meta['target']} " in line for line in think_steps(text))
            for i, (piece, trained) in enumerate(pieces):
                if not trained:  # an untrained chain: wrong arithmetic, its comparison follows trained
                    masked += 1
                    assert task.check_step(p, piece) is False and pieces[i + 1][1]
                    assert pieces[i + 1][0].startswith(f" vs {p.meta['target']} ")
                elif countdown_ops(piece.split(" vs ")[0].removeprefix("<think>")):
                    assert task.check_step(p, piece) is True, piece
            chains = [line.split(" vs ")[0] for line in think_steps(text)]
            assert len(chains) == len(set(chains)) and len(chains) <= 6
    assert masked > 100 and empty < 30


def test_a_model_line_that_hits_ends_the_trace_with_its_own_expression():
    p = make_problems("countdown", 1, 3, seed=1)[0]  # Use 11 5 2 to make 18
    a, b, c = p.meta["numbers"]
    response = (
        f"<think>{a}+{b}={a + b} vs {p.meta['target']} yes\n{a}+{b}={a + b},{a + b}+{c}={a + b + c} vs 3 no</think>"
    )
    text = pieces_text(correct_countdown(p, response))
    assert think_steps(text)[0].endswith("no") and think_steps(text)[-1].endswith(f"vs {p.meta['target']} yes")
    assert text.endswith(f"<answer>{a}+{b}+{c}</answer>") and len(think_steps(text)) == 2


def test_countdown_correction_of_a_response_without_attempts_is_none():
    p = make_problems("countdown", 1, 3, seed=1)[0]
    assert correct_countdown(p, "<think>hello</think>\n<answer>3</answer>") is None
    assert correct_countdown(p, "no think tags") is None


def test_arithmetic_corrections_mask_exactly_the_first_wrong_step():
    task, rng = get_task("arithmetic"), random.Random(3)
    slipped = 0
    for p in make_problems("arithmetic", 300, 3, seed=9):
        steps = think_steps(task.trace(p, rng))
        k = rng.randrange(len(steps) + 1)  # k == len(steps): no slip
        if k < len(steps):
            a, rest = steps[k].split("=", 1)
            value, *tail = rest.split(",", 1)
            steps[k] = f"{a}={int(value) + rng.choice([-1, 1, 10])}" + (f",{tail[0]}" if tail else "")
        pieces = correct_arithmetic(p, "<think>" + "\n".join(steps) + "</think>\n<answer>0</answer>")
        text = pieces_text(pieces)
        assert task.check(p, text).correct
        wrong = [t for t, ok in pieces if not ok]
        assert len(wrong) == (k < len(steps))
        if wrong:
            slipped += 1
            assert task.check_step(p, wrong[0]) is False
        assert all(task.check_step(p, t) is not False for t, ok in pieces if ok)
    assert slipped > 200


def test_a_response_cut_off_by_the_token_limit_keeps_its_distinct_misses_then_the_hit():
    """A model that never stops trying (no `</think>`): its first 5 distinct whole lines are judged
    `no`, the line cut short is dropped, and the generator's hit ends the trace."""
    p = make_problems("countdown", 1, 3, seed=1)[0]  # Use 11 5 2 to make 18
    misses = ["11+5=16,16-2=14", "11-5=6,6*2=12", "11+5=16,16-2=14", "5*2=10,11+10=21", "11*2=22,22-5=17"]
    misses += ["11-2=9,9+5=14", "5+2=7,11+7=19", "11*5=55,55-2=53"]
    response = "<think>" + "".join(f"{m} vs 18 no\n" for m in misses) + "11+5=16,16+2=1"
    text = pieces_text(correct_countdown(p, response))
    lines = think_steps(text)
    assert [x.split(" vs ")[0] for x in lines[:-1]] == [m for i, m in enumerate(misses) if m not in misses[:i]][:5]
    assert lines[-1] == "11+5=16,16+2=18 vs 18 yes" and get_task("countdown").check(p, text).correct
