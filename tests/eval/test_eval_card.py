"""The model card's measurement (eval/card.py): greedy accuracy per task level by the task's own
checker, on the same seeded fresh problems every time."""

import random

from ponder.eval.card import task_accuracy
from ponder.gen.fake import FakeGenerator
from ponder.tasks import get_task, make_problems


def test_task_accuracy_counts_the_checkers_verdicts():
    task, problems = get_task("arithmetic"), make_problems("arithmetic", 6, 2, 12345)
    right = {f"{p.question}\n": [task.trace(p, random.Random(0))] for p in problems[:3]}
    row = task_accuracy(FakeGenerator(right), "arithmetic", 2, 6)
    assert (row["task"], row["level"], row["n"]) == ("arithmetic", 2, 6)
    assert row["accuracy"] == 0.5 and row["ci_low"] < 0.5 < row["ci_high"]


def test_card_takes_the_ponder_command_line_syntax(capsys, tmp_path):
    from ponder.eval.card import main

    assert main(["--help"]) == 0 and "--gen-options" in capsys.readouterr().out
    assert main(["tiny", "--tasks", "arithmetc", "--out", str(tmp_path / "x.json")]) == 2
    assert "unknown task 'arithmetc'" in capsys.readouterr().err
    assert main(["tiny", "--device", "cpu"]) == 2 and "unknown config key 'device'" in capsys.readouterr().err
