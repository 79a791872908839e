"""Bad input at the command line: one clear line on stderr, a non-zero exit, nothing written."""

import json
from pathlib import Path

import pytest

from ponder.cli import main
from ponder.models import check_model_dir, resolve_model
from ponder.types import PonderError


def run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_and_unknown_command(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "solve" in out and "train" in out
    code, _, err = run(["sovle"], capsys)
    assert code == 2 and "unknown command 'sovle'" in err


def test_tasks_listing_and_unknown_task(capsys):
    code, out, _ = run(["tasks"], capsys)
    assert code == 0 and "countdown" in out and "arithmetic" in out
    code, out, _ = run(["tasks", "arithmetic", "--n", "2", "--trace"], capsys)
    assert code == 0 and len(out.strip().splitlines()) == 2 and "<think>" in json.loads(out.splitlines()[0])["trace"]
    code, _, err = run(["tasks", "countdwn"], capsys)
    assert code == 2 and "unknown task 'countdwn'" in err and "Did you mean 'countdown'" in err


def test_model_resolution_errors(tmp_path):
    with pytest.raises(PonderError, match="not a built-in"):
        resolve_model("no-such-model")
    (tmp_path / "m").mkdir()
    with pytest.raises(PonderError, match="no config.json"):
        check_model_dir(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text("{}")
    with pytest.raises(PonderError, match="has no tokenizer"):
        resolve_model(str(tmp_path / "m"))
    # a hub id is checked against the local cache, then the hub (tests/models/test_hub_ids.py)


def test_solve_checks_a_typed_countdown_problem_without_a_reference(tmp_path, capsys):
    out = tmp_path / "r.json"
    code, _, _ = run(["solve", "Use 3 7 12 to make 57", "--quiet", "--json", str(out)], capsys)
    assert code == 0
    rec = json.loads(out.read_text())["results"][0]
    assert rec["reference"] is None and rec["correct"] in (True, False) and rec["verdict"]


def test_builtin_models_ship_with_weights_and_tokenizer(capsys):
    from ponder.models import BUILTIN

    for name in BUILTIN:
        check_model_dir(Path(resolve_model(name)))
    code, out, _ = run(["models"], capsys)
    assert code == 0 and all(name in out for name in BUILTIN)
