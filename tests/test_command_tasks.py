"""The table: every command that takes problems x every task name (and a problems .jsonl and an
`hf:` datasets folder) resolves through ponder.tasks.load_task. Parse + load only (n=1): the
generator rows always run; the data-set rows need the public data (PONDER_DATA_DIR=/work/shared/data)
and skip without it."""

from __future__ import annotations

import json

import pytest

from ponder.tasks import load_task, task_names
from ponder.tasks.loaders import DATASETS, data_dirs

GENERATORS = ["arithmetic", "countdown", "equations", "knights"]
DATA_SETS = ["gsm8k", "math500", "math", "humaneval", "mbpp", "game24"]


def _solve(source):
    from ponder.search.cli import load_problems, parse_solve

    cfg, text = parse_solve(["--task", source, "--n", "1"])
    return load_problems(cfg, text)


def _eval(source):
    from ponder.eval.cli import build_config
    from ponder.eval.grid_config import load_problems

    cfg = build_config(["--tasks", source, "--n-problems", "1"])
    return load_problems(cfg.tasks[0], cfg)


def _train(method):
    def resolve(source):
        from ponder.train.cli import load_method_config
        from ponder.train.data import load_problems

        cfg, _ = load_method_config(method, ["--data.task", source, "--data.n", "1"])
        return load_problems(cfg.data)

    return resolve


def _sft_teacher(source):
    from ponder.train.cli import load_method_config

    cfg, _ = load_method_config("sft", ["--teacher.task", source, "--teacher.n", "1"])
    t = cfg.teacher
    return load_task(t.task, t.n, t.level, t.seed)  # what teacher_traces reads


def _label(source):
    from ponder.rm.cli import label_problems, parse_label

    return label_problems(parse_label(["--task", source, "--n", "1", "--out", "x.jsonl"])[0])


def _data(source):
    from ponder.cliargs import parse_cli
    from ponder.data.cli import DataConfig, _problems

    cfg, _ = parse_cli(DataConfig, ["--task", source, "--n", "1"], prog="ponder data", doc="")
    return _problems(cfg)


def _verify(source):
    from ponder.verify.cli import _parser, _source_problems

    args = _parser().parse_args(["--input", "x", "--output", "y", "--task", source, "--n", "1"])
    return list(_source_problems(args).values())


def _tasks(source, capsys=None):
    from ponder.tasks import main

    main([source, "--n", "1"])


COMMANDS = {
    "solve": _solve,
    "eval": _eval,
    **{f"train {m}": _train(m) for m in ("grpo", "rft", "star", "dpo")},
    "train sft (teacher)": _sft_teacher,
    "label": _label,
    "data": _data,
    "verify": _verify,
}


def _have_data() -> bool:
    return all((d / "gsm8k").is_dir() for d in data_dirs())


@pytest.mark.parametrize("command", [*COMMANDS, "tasks"])
@pytest.mark.parametrize("source", GENERATORS + DATA_SETS)
def test_every_command_takes_every_task_name(command, source, capsys):
    if source in DATA_SETS and not _have_data():
        pytest.skip("public data not found: set PONDER_DATA_DIR=/work/shared/data")
    if command == "tasks":
        _tasks(source)
        rec = json.loads(capsys.readouterr().out.splitlines()[0])
        problems = [rec]
        task = rec["task"]
    else:
        problems = COMMANDS[command](source)
        task = problems[0].task
    assert len(problems) == 1
    assert task == {"math500": "math"}.get(source, source)


def test_the_table_covers_every_task_name():
    assert set(GENERATORS + DATA_SETS) == set(task_names())
    assert set(DATASETS.names()) <= set(DATA_SETS)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """A problems .jsonl and an hf: folder (datasets' save_to_disk) of 2 arithmetic problems."""
    from ponder.records import make_record

    d = tmp_path_factory.mktemp("sources")
    recs = [make_record(p) for p in load_task("arithmetic", 2, seed=7)]
    (d / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    out = {"jsonl": str(d / "p.jsonl")}
    try:
        import datasets
    except ImportError:
        return out
    rows = [{**r, "meta": json.dumps(r["meta"]), "cost": None} for r in recs]
    datasets.Dataset.from_list([{k: v for k, v in r.items() if k != "cost"} for r in rows]).save_to_disk(d / "hf")
    out["hf"] = f"hf:{d / 'hf'}"
    return out


@pytest.mark.parametrize("command", [*COMMANDS, "tasks"])
@pytest.mark.parametrize("kind", ["jsonl", "hf"])
def test_every_command_takes_a_file_and_an_hf_source(command, kind, sources, capsys):
    if kind not in sources:
        pytest.skip("needs the `datasets` package")
    source = sources[kind]
    if command == "tasks":
        _tasks(source)
        questions = [json.loads(line)["question"] for line in capsys.readouterr().out.splitlines()]
    else:
        questions = [p.question for p in COMMANDS[command](source)]
    assert questions and questions[0] == load_task("arithmetic", 2, seed=7)[0].question


def test_verify_task_joins_references_by_problem_id(tmp_path, capsys):
    """`ponder verify --task SOURCE`: records carry only problem_id + response."""
    import random

    from ponder.cli import main
    from ponder.tasks import get_task

    problems = load_task("arithmetic", 3, seed=5)
    rows = [{"problem_id": p.id, "response": get_task("arithmetic").trace(p, random.Random(0))} for p in problems]
    rows[1]["response"] = "<think>no</think>\n<answer>-1</answer>"
    src = tmp_path / "r.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "s.jsonl"
    argv = ["verify", "--input", str(src), "--output", str(out), "--task", "arithmetic", "--n", "3", "--seed", "5"]
    assert main(argv) == 0
    assert [json.loads(line)["correct"] for line in out.read_text().splitlines()] == [True, False, True]
    rows[0]["problem_id"] = "nope"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main([*argv[:4], str(tmp_path / "t.jsonl"), *argv[5:]]) == 2
    assert "problem_id 'nope' is not among the 3 problems of --task" in capsys.readouterr().err
    src.write_text(json.dumps({"response": "so \\boxed{4}", "answer": "4"}) + "\n")
    assert main(["verify", "--input", str(src), "--output", str(tmp_path / "u.jsonl"), "--verifier", "math500"]) == 0
    assert json.loads((tmp_path / "u.jsonl").read_text())["correct"] is True  # math500 -> the math verifier


def test_label_takes_prompt_and_records_it(tmp_path):
    from ponder.cli import main

    out = tmp_path / "l.jsonl"
    argv = ["label", "--task", "arithmetic", "--n", "1", "--samples", "1", "--k", "1", "--max-tokens", "48"]
    assert main([*argv, "--prompt", "tiny", "--out", str(out)]) == 0
    rec = json.loads(out.read_text().splitlines()[0])
    assert rec["meta"]["prompt_format"] == "tiny" and rec["problem"]["question"] in rec["meta"]["prompt"]
