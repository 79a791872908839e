"""`ponder verify` on bad input: options validated, bad lines named by file:line and stopped on or
skipped, misnamed reference fields named, output written as computed and resumed after an
interrupt, sandbox folders removed when the run is killed, one score per input row."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from sandbox_helpers import REPO, needs_sandbox

from ponder.cli import main
from ponder.io import read_jsonl, write_jsonl

MATH = [{"response": f"\\boxed{{{i}}}", "answer": str(i if i % 2 else i + 1)} for i in range(5)]


def _run(tmp_path, records=None, *extra, raw: bytes | None = None, name="in.jsonl"):
    src, out = tmp_path / name, tmp_path / "out.jsonl"
    if raw is not None:
        src.write_bytes(raw)
    elif records is not None:
        write_jsonl(src, records)
    return main(["verify", "--input", str(src), "--output", str(out), *extra]), out


@pytest.mark.parametrize("option", [["--workers", "0"], ["--workers", "-3"], ["--timeout", "0"], ["--timeout", "-1"],
                                    ["--timeout", "nan"], ["--timeout", "inf"], ["--batch", "0"], ["--workers", "x"]])  # fmt: skip
def test_numeric_options_are_validated(tmp_path, capsys, option):
    with pytest.raises(SystemExit) as e:
        _run(tmp_path, MATH, "--verifier", "math", *option)
    assert e.value.code == 2 and ("expected" in capsys.readouterr().err)


@pytest.mark.parametrize("field", ["answers", "gold"])
def test_misnamed_reference_field_is_an_error_naming_the_expected_field(tmp_path, capsys, field):
    code, out = _run(tmp_path, [{"response": "\\boxed{1}", field: "1"}], "--verifier", "math")
    err = capsys.readouterr().err
    assert code == 2 and "in.jsonl:1" in err and "`answer`" in err and f"`{field}`" in err and not out.exists()


def test_bad_lines_stop_or_are_skipped_and_counted(tmp_path, capsys):
    good = json.dumps(MATH[1]).encode()
    raw = (
        good
        + b"\n\xff\xfe not utf-8\n{not json\n[1, 2]\n"
        + json.dumps({"response": "1", "info": [1]}).encode()
        + b"\n"
        + good
        + b"\n"
    )
    code, out = _run(tmp_path, raw=raw)
    err = capsys.readouterr().err
    assert code == 2 and "in.jsonl:2: not valid UTF-8" in err and not out.exists()
    code, out = _run(tmp_path, None, "--on-error", "skip", raw=raw)
    captured = capsys.readouterr()
    assert code == 0 and len(read_jsonl(out)) == 2
    for line, what in ((2, "UTF-8"), (3, "JSON"), (4, "JSON object"), (5, "`info` must be an object")):
        assert f"in.jsonl:{line}:" in captured.err and what in captured.err
    assert "skipped 4 bad lines" in captured.out


def test_corrupt_gzip_and_folder_paths_are_clear_errors(tmp_path, capsys):
    data = gzip.compress(((json.dumps(MATH[0]) + "\n") * 50).encode())
    code, _ = _run(tmp_path, raw=data[: len(data) // 2], name="in.jsonl.gz")
    assert code == 2 and "corrupt" in capsys.readouterr().err
    (tmp_path / "folder").mkdir()
    write_jsonl(tmp_path / "in.jsonl", MATH)
    assert main(["verify", "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "folder")]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["verify", "--input", str(tmp_path), "--output", str(tmp_path / "o.jsonl")]) == 2


def test_lone_surrogate_response_is_a_parse_failure_not_a_crash(tmp_path):
    raw = (json.dumps({"response": "\\boxed{1\ud800}", "answer": "1"}) + "\n" + json.dumps(MATH[1]) + "\n").encode()
    code, out = _run(tmp_path, None, "--verifier", "math", raw=raw)
    rows = read_jsonl(out)
    assert code == 0 and [r["correct"] for r in rows] == [False, True] and rows[0]["parsed"] is None


def test_output_is_written_as_computed_and_resumed_after_interrupt(tmp_path, monkeypatch, capsys):
    import ponder.verify as verify_pkg

    real, calls = verify_pkg.get_verifier("math"), []

    def flaky(problems, responses):
        calls.append(len(responses))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(problems, responses)

    monkeypatch.setattr(verify_pkg, "get_verifier", lambda name, **kw: flaky)
    code, out = _run(tmp_path, MATH, "--verifier", "math", "--batch", "2")
    assert code == 130 and len(read_jsonl(out)) == 2 and "resume" in capsys.readouterr().err
    with open(out, "a") as f:
        f.write('{"response": "torn')  # a kill in the middle of a write
    code, out = _run(tmp_path, MATH, "--verifier", "math", "--batch", "2")
    assert code == 0 and "resuming: 2 of 5" in capsys.readouterr().out
    rows = read_jsonl(out)
    assert [r["response"] for r in rows] == [r["response"] for r in MATH]
    assert [r["correct"] for r in rows] == [False, True, False, True, False]
    assert calls == [2, 2, 2, 1]  # after the interrupt only the 3 remaining records were scored
    write_jsonl(tmp_path / "other.jsonl", [{"response": "x", "answer": "1"}] * 5)
    assert main(["verify", "--input", str(tmp_path / "other.jsonl"), "--output", str(out)]) == 2


def test_a_verifier_returning_an_extra_score_is_caught(tmp_path, capsys):
    plugin = tmp_path / "plug.py"
    plugin.write_text(
        "from ponder.types import Score\n"
        "def verify(problems, responses):\n    return [Score(1.0)] * (len(responses) + 1)\n"
    )
    code, _ = _run(tmp_path, MATH, "--verifier", f"{plugin}:verify")
    assert code == 2 and "returned 6 scores for 5 responses" in capsys.readouterr().err


@needs_sandbox
def test_killed_code_run_leaves_no_temporary_folders(tmp_path):
    recs = [{"response": "import time\ntime.sleep(30)\ndef f(x):\n    return x", "test_list": ["assert f(1) == 1"]}] * 2
    write_jsonl(tmp_path / "in.jsonl", recs)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "ponder.cli", "verify", "--verifier", "code", "--input", str(tmp_path / "in.jsonl"),
           "--output", str(tmp_path / "out.jsonl"), "--timeout", "20"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    mine = lambda: list(Path(tempfile.gettempdir()).glob(f"ponder-sbx-{proc.pid}-*"))  # noqa: E731
    deadline = time.monotonic() + 60
    while not mine() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert mine(), "the run never started a program"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    assert mine() == []


def test_stale_folders_of_a_dead_verifier_are_removed():
    from ponder.verify import sandbox

    stale = Path(tempfile.gettempdir()) / "ponder-sbx-999999999-abc"
    stale.mkdir(exist_ok=True)
    sandbox.remove_stale.cache_clear()
    sandbox.remove_stale()
    assert not stale.exists()
