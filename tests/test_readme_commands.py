"""Every command in the README's ```bash blocks runs, in-process through `ponder.cli.main`.

The README keeps its real sizes; this test APPENDS size-reducing overrides (QUICK below; a later
`--key=value` wins) so that every command finishes in seconds on the tiny reasoner. Commands run
in a temporary folder holding a link to recipes/ and a small responses.jsonl (the input the
README's `ponder verify` line names). Excluded: `bash scripts/setup.sh` (the setup command: it
creates a venv and installs packages), `python -m pytest` (the test suite itself) and `ponder
serve` (a server that runs until stopped; tests/serve starts it on a free port). A command
of an `a && b` chain counts as a command of its own. Every output file a command names
(--json, --tree, --output, --out) must exist afterwards.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from ponder.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXCLUDED = ("bash scripts/setup.sh", "python -m pytest", "ponder serve")
QUICK = {
    "solve": ["--n=1"],
    "eval": ["--n-problems=2", "--budgets=1,2", "--max-tokens=48"],
    "train": ["--run.steps=1", "--run.resume=false", "--run.save_every=0", "--run.threads=1", "--data.n=8",
              "--rollout.prompts_per_step=2", "--rollout.group_size=2", "--rollout.max_tokens=32",
              "--rollout.micro_batch=4", "--eval.n=2", "--eval.max_tokens=32"],
}  # fmt: skip
OUTPUT_FLAGS = ("--json", "--tree", "--output", "--out")


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = " ".join(shlex.quote(w) for w in shlex.split(line, comments=True))
            for part in re.split(r"\s+'?&&'?\s+", line):
                if part.strip() and not any(e in part for e in EXCLUDED):
                    commands.append(part.strip())
    return commands


COMMANDS = readme_commands()


def test_the_readme_has_commands_and_the_setup_is_the_only_thing_left_out():
    assert len(COMMANDS) >= 7 and all(c.startswith(".venv/bin/ponder ") for c in COMMANDS), COMMANDS
    assert any("train grpo" in c for c in COMMANDS) and any(c.startswith(".venv/bin/ponder eval") for c in COMMANDS)


def quick_argv(command: str) -> list[str]:
    argv = shlex.split(command)[1:]  # drop .venv/bin/ponder
    extra = list(QUICK.get(argv[0], []))
    if argv[0] == "solve" and any(a in ("--budget", "--effort") for a in argv):
        extra.append("--budget=2")
    return argv + extra


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recipes").symlink_to(ROOT / "recipes")
    rows = [{"response": "<answer>42</answer>", "answer": "42"}, {"response": "so 7", "answer": "8"}]
    (tmp_path / "responses.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = quick_argv(command)
    assert main(argv) == 0, f"{command!r} failed: {capsys.readouterr().err[-2000:]}"
    for flag, value in zip(argv, argv[1:]):
        if flag in OUTPUT_FLAGS:
            assert (tmp_path / value).exists(), f"{command!r} did not write {value}"
