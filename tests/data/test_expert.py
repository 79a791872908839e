"""Expert iteration (`ponder train expert`): search with the step checker -> verified, filtered
traces -> SFT, per-round held-out accuracy, resume at a round boundary without searching again."""

import json

import pytest

from ponder.cli import main
from ponder.config import load_config
from ponder.data.expert import EXPERT_FILTERS, ExpertConfig, round_table
from ponder.io import read_jsonl
from ponder.types import PonderError

FIELDS = ["problem_id", "task", "question", "answer", "prompt", "response", "correct", "score", "cost", "meta"]


def _args(out, rounds):
    return ["train", "expert", "--data.task=arithmetic", "--data.level=1", "--data.n=4", "--k=2", "--budget=4",
            f"--rounds={rounds}", "--steps-per-round=2", "--batch-size=4", "--micro-batch=4", "--eval.n=6",
            "--eval.max-tokens=48", "--options.max-tokens=48", "--options.width=2", f"--run.out={out}",
            "--run.progress=false", "--run.threads=1", "--optim.lr=1e-3"]  # fmt: skip


@pytest.mark.slow  # ~15 s on the tiny reasoner, more on the shared machine
def test_expert_iteration_rounds_accuracy_and_resume(tmp_path, monkeypatch):
    import ponder.data.expert as expert

    out = tmp_path / "ei"
    searched = []
    real = expert._rollouts
    monkeypatch.setattr(
        expert, "_rollouts", lambda sess, cfg, ps, seed: searched.append(seed) or real(sess, cfg, ps, seed)
    )
    assert main(_args(out, 1)) == 0
    kept = read_jsonl(out / "round-0.jsonl")
    assert kept and all(list(r) == FIELDS and r["correct"] for r in kept)
    assert all(r["meta"]["strategy"] == "beam" for r in kept)  # the traces came from the search
    # resume with one more round: round 0's traces are read back, only round 1 is searched
    assert main(_args(out, 2)) == 0 and len(searched) == 2
    summary = json.loads((out / "summary.json").read_text())
    table = summary["round_accuracy"]
    assert [r["round"] for r in table] == [0, 1, 2]
    assert all(0 <= r["accuracy"] <= 1 and r["ci_low"] <= r["accuracy"] <= r["ci_high"] and r["n"] == 6 for r in table)
    assert table[1]["rollouts"] == 8 and table[2]["kept"] == summary["rounds"]["round_1"]["kept"]
    assert list(summary["rounds"]["round_0"]["removed"]) == EXPERT_FILTERS
    assert (out / "ckpt-000002").is_dir() and (out / "ckpt-000004").is_dir()


def test_expert_config_errors_before_any_model():
    with pytest.raises(PonderError, match="unknown data filter"):
        load_config(ExpertConfig, None, ["filters=[correct,dedupe]"])
    with pytest.raises(PonderError, match="strategy"):
        load_config(ExpertConfig, None, ["strategy=nosuch"])
    with pytest.raises(PonderError, match=">= 1"):
        load_config(ExpertConfig, None, ["rounds=0"])


def test_round_table_joins_eval_rows_and_round_stats(tmp_path):
    rows = [{"step": 0, "eval/accuracy": 0.5, "eval/n": 4}, {"step": 1, "loss": 1.0},
            {"step": 2, "eval/accuracy": 0.75, "eval/n": 4}, {"step": 3, "eval/accuracy": 0.1}]  # fmt: skip
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    table = round_table(tmp_path, 2, {"round_0": {"kept": 3, "removed": {"correct": 1}}})
    assert table == [{"round": 0, "accuracy": 0.5, "n": 4}, {"round": 1, "accuracy": 0.75, "n": 4, "kept": 3}]


@pytest.mark.slow  # ~15 s on the tiny reasoner
def test_expert_iteration_by_dpo_on_search_tree_paths(tmp_path):
    from ponder.tasks import make_problems
    from ponder.verify import verify

    out = tmp_path / "dpo"
    drop = ("--data.level", "--options.width", "--options.max-tokens", "--budget", "--k=")
    args = [a for a in _args(out, 1) if not a.startswith(drop)]
    args += ["--learn=dpo", "--data.level=4", "--options.width=4", "--budget=8", "--k=1", "--pairs-per-problem=2"]
    assert main(args) == 0
    pairs = read_jsonl(out / "pairs-0.jsonl")
    assert pairs and all(p["chosen"] != p["rejected"] for p in pairs)
    by_id = {p.id: p for p in make_problems("arithmetic", 4, 4, 0)}
    good = verify([by_id[p["id"]] for p in pairs], [p["chosen"] for p in pairs])
    bad = verify([by_id[p["id"]] for p in pairs], [p["rejected"] for p in pairs])
    assert all(s.correct for s in good) and not any(s.correct for s in bad)
    summary = json.loads((out / "summary.json").read_text())
    assert [r["round"] for r in summary["round_accuracy"]] == [0, 1]
    assert summary["round_accuracy"][1]["pairs"] == len(pairs)
