"""benchmarks/tiny_science.py's pieces: how a `wait` continuation is classed, how a verdict is
decided from paired per-problem results, how the time budget is shared; and (slow) the whole
run on the shipped tiny reasoner at a few problems, report included."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))  # the scripts import each other by name
    import science_reflect
    import science_report
    import tiny_science

    return science_reflect, science_report, tiny_science


def test_lines_of_strips_tags_and_the_wait_prefix(bench):
    sr, _, _ = bench
    assert sr.lines_of("<think>1+2=3\n\nwait 3+4=7</think>") == ["1+2=3", "3+4=7"]


def test_classify_continuations(bench):
    sr, _, _ = bench
    before = "<think>20-9=11,11-8=3 vs 3 yes\n"
    assert sr.classify(True, True, before, "20-9=11,11-8=3 vs 3 yes</think>") == "confirmation"
    assert sr.classify(True, True, before, "9+8=17</think>") == "other"
    assert sr.classify(False, True, "155+15=160\n", "155+15=170</think>") == "fix"
    assert sr.classify(True, False, "280+25=305\n", "280+25=205</think>") == "derailment"
    counts = sr.shares(["fix", "fix", "other", "confirmation"])
    assert counts["n"] == 4 and counts["fix"] == {"count": 2, "share": 0.5} and counts["derailment"]["count"] == 0


def test_forced_parts_reads_the_chosen_path(bench):
    from ponder.types import Node, SearchResult

    sr, _, _ = bench
    tree = [
        Node(0, None, "", chosen=True),
        Node(1, 0, "a=1\n", chosen=True),
        Node(2, 1, "\nwait ", chosen=True, meta={"forced": "wait"}),
        Node(3, 2, "a=1", chosen=True),
        Node(4, 1, "other branch"),
    ]
    assert sr.forced_parts(SearchResult("p", None, "", tree=tree)) == ("a=1\n", "a=1")
    assert sr.forced_parts(SearchResult("p", None, "", tree=tree[:2])) is None


def _row(flags: str) -> dict:
    k = flags.count("1")
    return {"task": "t", "strategy": "s", "budget": 1, "flags": flags, "accuracy": k / len(flags), "ci_low": 0.0,
            "ci_high": 1.0, "mean_generated_tokens": 10.0}  # fmt: skip


def test_verdict_needs_the_paired_interval_above_zero(bench):
    _, rep, _ = bench
    base = _row("0" * 100)
    assert rep.judged("c", "t", base, _row("1" * 30 + "0" * 70), "x")["verdict"] == "reproduces"
    assert (
        rep.judged("c", "t", base, _row("1" + "0" * 99), "x")["verdict"]
        == "does not reproduce (no resolved difference)"
    )
    assert rep.judged("c", "t", _row("1" * 40 + "0" * 60), base, "x")["verdict"] == "does not reproduce (worse)"
    assert rep.judged("c", "t", None, base, "x")["verdict"] == "not run"


def test_distill_gets_its_need_and_the_rest_is_shared(bench):
    _, _, ts = bench
    share = ts.deadlines(1800.0, ["curves", "reflect", "temps", "distill"], 600.0)
    assert sum(share.values()) == pytest.approx(1200.0) and share["curves"] > share["temps"] > share["reflect"]
    assert sum(ts.deadlines(1800.0, ["curves"], 600.0).values()) == pytest.approx(1800.0)


@pytest.mark.slow
def test_whole_run_on_a_few_problems_writes_json_report_and_curves(tmp_path):
    cmd = [sys.executable, "benchmarks/tiny_science.py", "--n", "4", "--pool", "4", "--temperatures", "0.5",
           "--strategies", "budget_forcing/wait", "beam/check",
           "--parts", "curves", "reflect", "temps", "prm", "--out-dir", str(tmp_path)]  # fmt: skip
    subprocess.run(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True, timeout=1800)
    data = json.loads((tmp_path / "science_tiny.json").read_text())
    strategies = {r["strategy"] for r in data["rows"]}
    assert {"greedy", "majority", "best_of_n/check", "beam/check", "budget_forcing/wait"} <= strategies
    assert all(len(r["flags"]) == 4 for r in data["rows"] + data["temps"])
    assert data["reflect"]["countdown"]["wait"]["continuations"]["n"] <= 4
    claims = {v["claim"] for v in data["verdicts"]}
    assert any("Majority" in c for c in claims) and all(v["verdict"] for v in data["verdicts"])
    report = (tmp_path / "science_tiny.md").read_text()
    assert "reproduce" in report and (tmp_path / "science_tiny_curves.png").stat().st_size > 1000


def test_distill_is_skipped_with_its_reason(bench, tmp_path):
    import argparse

    _, _, ts = bench
    a = argparse.Namespace(student=str(tmp_path / "none"), make_student=False, distill_minutes=4.0, student_minutes=5.0)
    out: dict = {}
    ts.run_distill(a, out, 1800.0)
    assert "no student start" in out["distill"]["skipped"]
    a.make_student = True  # 2 x 4 + 5 + 3 minutes needed, 10 left
    ts.run_distill(a, out, 600.0)
    assert out["distill"]["skipped"].startswith("over budget: needs ~16 min")


def test_distill_budget_counts_flops_of_both_arms(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import distill_budget as db

    n = 1000
    # an SFT step of 500 tokens: 6 * N * 500
    assert db.sft_flops([{"tokens_per_s": 250.0, "step_s": 2.0}, {"step": 2}], n) == 6 * n * 500
    # a GRPO step, G=4: 2 prompts of 10 tokens (40 prompt tokens in the sequences), 60 sampled
    # tokens; tokens_per_s * step_s = sampled + sequences = 60 + 100
    row = {"gen_tokens": 60, "tokens_per_s": 80.0, "step_s": 2.0, "sampled_groups": 2, "zero_var_frac": 0.5}
    assert db.grpo_flops([row], n, group_size=4) == 2 * n * (60 + 10) + 6 * n * 100
    assert db.sft_steps_for(6 * n * 500 * 7, n, 500) == 7 and db.sft_steps_for(1.0, n, 500) == 1
    quiet = {"sampled_groups": 6, "zero_var_frac": 1.0}
    assert db.nonzero_variance_share([row, quiet]) == pytest.approx(1 / 8)
    s = db.flags_summary([True, False, True, True], tokens=40)
    assert (s["accuracy"], s["flags"], s["mean_tokens"]) == (0.75, "1011", 10.0) and s["ci_low"] < 0.75 < s["ci_high"]


def test_a_distill_result_with_flags_is_judged_paired(bench, monkeypatch):
    import science_distill_update as sdu

    science = json.loads((REPO / "benchmarks/results/science_tiny.json").read_text())

    def arm(flags: str) -> dict:
        k, n = flags.count("1"), len(flags)
        return {"accuracy": k / n, "ci_low": 0.0, "ci_high": 1.0, "flags": flags}

    d = {"args": {"task": "countdown"}, "student_init": arm("0" * 40), "teacher": arm("1" * 40),
         "distill_steps": 300, "grpo_steps": 40, "grpo_flops": 1e12, "distill_flops": 1e12,
         "grpo_nonzero_variance_groups": 0.5}  # fmt: skip
    for grpo, distilled, verdict in [("0" * 40, "01" * 20, "reproduces"), ("01" * 20, "01" * 20, "no resolved"),
                                     ("1" * 40, "0" * 40, "(worse)")]:  # fmt: skip
        data = sdu.merge(science, {**d, "student_grpo": arm(grpo), "student_distilled": arm(distilled)})
        v = [v for v in data["verdicts"] if v["claim"].startswith("Distillation")]
        assert len(v) == 1 and verdict in v[0]["verdict"] and "equal FLOPs" in v[0]["claim"]
        assert "variance 50%" in v[0]["measured"]
