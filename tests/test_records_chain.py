"""The one record schema end to end on a user's own model: a random-init Qwen2 folder (BPE
tokenizer trained here by `tokenizers`, a chat template with a system role) solves a local
GSM8K-format fixture with `ponder solve --json out.jsonl`; the file chains into `ponder verify`
and one step of `ponder train sft` with no converter, and `ponder tasks` output reads back."""

import json
from pathlib import Path

import pytest
import torch

from ponder.cli import main
from ponder.records import FIELDS

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from benchmarks.gpu_check import build_folder

    folder = tmp_path_factory.mktemp("qwen2")
    build_folder(folder, dry_run=True, dtype=torch.float32)
    return folder


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_solve_verify_sft_chain_on_own_model(model_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PONDER_DATA_DIR", str(FIXTURES))
    out = tmp_path / "out.jsonl"
    args = [
        "solve",
        "--model",
        str(model_dir),
        "--task",
        "gsm8k",
        "--n",
        "3",
        "--prompt",
        "r1",
        "--quiet",
        "--json",
        str(out),
    ]
    assert main(args) == 0
    recs = _lines(out)
    assert len(recs) == 3 and all(list(r) == list(FIELDS) for r in recs)
    assert recs[0]["task"] == "gsm8k" and recs[0]["answer"] == "72" and "Natalia" in recs[0]["prompt"]
    assert recs[0]["prompt"].startswith("<|im_start|>system\n") and "<answer> </answer>" in recs[0]["prompt"]
    assert all(r["meta"]["prompt_format"] == "r1" and r["question"] in r["prompt"] for r in recs)
    assert recs[0]["correct"] in (True, False)
    scored = tmp_path / "scored.jsonl"
    assert main(["verify", "--input", str(out), "--output", str(scored)]) == 0
    rows = _lines(scored)
    assert [r["problem_id"] for r in rows] == [r["problem_id"] for r in recs]
    assert all(isinstance(r["score"], float) and r["correct"] in (True, False) for r in rows)
    common = [f"--model.name={model_dir}", "--run.steps=1", "--run.progress=false", "--run.threads=1"]
    sft = ["train", "sft", *common, f"--run.out={tmp_path / 's'}", f"--data.path={scored}", "--batch_size=3"]
    assert main([*sft, "--data.overlong=drop", "--max_len=1024"]) == 0
    assert (tmp_path / "s" / "ckpt-000001" / "model.safetensors").is_file()


def test_tasks_output_reads_back_as_problems(tmp_path, capsys):
    assert main(["tasks", "countdown", "--n", "2", "--trace"]) == 0
    lines = capsys.readouterr().out.splitlines()
    recs = [json.loads(line) for line in lines]
    assert all(list(r) == list(FIELDS) for r in recs) and recs[0]["task"] == "countdown"
    problems = tmp_path / "p.jsonl"
    problems.write_text("\n".join(lines) + "\n")
    from ponder.tasks import load_task

    back = load_task(str(problems))
    assert [p.id for p in back] == [r["problem_id"] for r in recs] and back[0].meta == recs[0]["meta"]
    scored = tmp_path / "scored.jsonl"
    assert main(["verify", "--input", str(problems), "--output", str(scored)]) == 0
    assert all(r["correct"] is True for r in _lines(scored))  # the reference traces check out


def test_solve_reads_free_text_as_any_task():
    from ponder.search.cli import SolveConfig, load_problems

    (p,) = load_problems(SolveConfig(task="gsm8k"), "Natalia sold 48 clips. How many?")
    assert (p.task, p.question, p.answer) == ("gsm8k", "Natalia sold 48 clips. How many?", None)
    (p,) = load_problems(SolveConfig(task="arithmetic"), "1+1")
    assert p.task == "arithmetic" and p.answer == "2"


def test_max_tokens_reaches_greedy_and_beam(tmp_path):
    out = tmp_path / "o.jsonl"
    argv = [
        "solve",
        "--task",
        "arithmetic",
        "--n",
        "2",
        "--budget",
        "2",
        "--max-tokens",
        "5",
        "--quiet",
        "--json",
        str(out),
    ]
    assert main([*argv, "--strategy", "greedy"]) == 0
    assert all(0 < r["cost"]["generated_tokens"] <= 5 for r in _lines(out))  # uncapped: ~40 tokens each
    assert main([*argv, "--strategy", "beam"]) == 0  # beam caps at step granularity: one step, then stop
    assert all(r["cost"]["gen_calls"] == 1 and "</answer>" not in r["response"] for r in _lines(out))
    from ponder.search import cli as solve_cli
    from ponder.types import PonderError

    with pytest.raises(PonderError, match="strategy 'greedy' has no temperature knob; it takes --max-tokens, --top-p"):
        solve_cli.main(["1+1", "--temperature", "0.5"])
    assert main([*argv, "--strategy", "majority", "--top-p", "0.9", "--temperature", "0.5"]) == 0
    assert all(r["meta"]["top_p"] == 0.9 and r["meta"]["options"]["temperature"] == 0.5 for r in _lines(out))


def test_scorer_check_needs_a_step_checker_and_game24_uses_countdowns():
    from ponder.search import cli as solve_cli
    from ponder.search.scorers.check import StepChecker
    from ponder.types import PonderError

    with pytest.raises(PonderError, match="task gsm8k has no step checker.*confidence"):
        solve_cli.main(
            ["Natalia sold 48 clips. How many?", "--task", "gsm8k", "--strategy", "beam", "--scorer", "check"]
        )
    import dataclasses
    import random

    from ponder.steps import split_steps
    from ponder.tasks import get_task, make_problems

    (cd,) = make_problems("countdown", 1, seed=3)
    steps = split_steps(get_task("countdown").trace(cd, random.Random(0)))
    g24 = dataclasses.replace(cd, task="game24")
    right = StepChecker().score_steps([cd, g24], [steps, steps])
    wrong = StepChecker().score_steps([g24], [["1+1=3"]])
    assert right[0] == right[1] and 1.0 in right[1] and wrong == [[0.0]]


def test_eval_and_train_grpo_take_prompt_on_own_model(model_dir, tmp_path, monkeypatch):
    """The Proof extended: `ponder eval` and `ponder train grpo` with --prompt on the same folder."""
    monkeypatch.setenv("PONDER_DATA_DIR", str(FIXTURES))
    run = tmp_path / "ev"
    ev = ["eval", "--models", str(model_dir), "--tasks", "gsm8k", "--n-problems", "2", "--strategies",
          "greedy,beam,majority", "--budgets", "2", "--prompt", "boxed", "--max-tokens", "12", "--out", str(run)]  # fmt: skip
    assert main(ev) == 0
    recs = _lines(run / "results.jsonl")
    assert {r["strategy"] for r in recs} == {"greedy", "beam", "majority"}
    assert all(r["prompt_format"] == "boxed" and "\\boxed{}" in r["prompt"] and r["question"] in r["prompt"]
               for r in recs)  # fmt: skip
    assert all(r["generated_tokens"] <= 12 * (2 if r["strategy"] != "greedy" else 1) for r in recs)
    common = [f"--model.name={model_dir}", "--run.steps=1", "--run.progress=false", "--run.threads=1"]
    grpo = ["train", "grpo", *common, f"--run.out={tmp_path / 'g'}", "--prompt", "r1", "--data.task=gsm8k",
            "--data.n=2", "--rollout.prompts_per_step=2", "--rollout.group_size=2", "--rollout.max_tokens=8",
            "--log_rewards=format", "--eval.n=0"]  # fmt: skip
    assert main(grpo) == 0
    state = json.loads(next((tmp_path / "g").glob("ckpt-*/trainer_state.json")).read_text())
    assert state["config"]["model"]["prompt"] == "r1"
    metrics = _lines(tmp_path / "g" / "metrics.jsonl")
    assert "reward/format" in metrics[-1]


def test_format_reward_and_extraction_follow_the_prompt_format():
    from ponder.answers import answer_in_style
    from ponder.prompts import get_prompt, render
    from ponder.verify.rewards import get_reward

    class Tok:
        chat_template = None

    fmt = get_reward("format")
    prompts = {n: render(get_prompt(n), Tok(), "What is 6*7?") for n in ("r1", "boxed", "code", "r1-think")}
    good = {"r1": "<think>6*7=42</think>\n<answer>42</answer>", "boxed": "6*7=42, so \\boxed{42}.",
            "code": "```python\nprint(42)\n```", "r1-think": "6*7=42</think>\n<answer>42</answer>"}  # fmt: skip
    for name, prompt in prompts.items():
        values = fmt([prompt] * 4, [good[n] for n in ("r1", "boxed", "code", "r1-think")])
        assert values == [float(n == name) for n in ("r1", "boxed", "code", "r1-think")], name
    assert get_reward("format", style="free")(["q"], ["42"]) == [1.0]
    assert prompts["r1-think"].endswith("<think>")  # the prefill is in the prompt
    assert answer_in_style("We add them.\nSo the total is 1,234 apples", "free") == "1234"
    assert answer_in_style("So the total is 1,234 apples", "answer") is None  # only plain guesses
    assert answer_in_style("<answer>3</answer> then \\boxed{5}", "boxed") == "5"


def test_effort_falls_back_on_a_task_without_a_step_checker(capsys):
    from ponder.search import cli as solve_cli
    from ponder.search.effort import effort_for

    e, note = effort_for("high", has_step_checker=False)
    assert (e.strategy, e.budget, e.options) == ("majority", 16, {}) and "no step checker" in note
    e, note = effort_for("high", has_step_checker=True)
    assert (e.strategy, e.options) == ("refine", {"scorer": "check"}) and note.startswith("effort high: refine")
    assert effort_for("xhigh", False)[0].options == {"scorer": "confidence"}
    assert solve_cli.main(["Natalia sold 48 clips. How many?", "--task", "gsm8k", "--effort", "medium"]) == 0
    assert "effort medium: majority · budget 4" in capsys.readouterr().err
