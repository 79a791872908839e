"""The one command-line syntax (ponder.cliargs) and `--help` of every subcommand with a config."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Literal

import pytest

from ponder.cli import main
from ponder.cliargs import HelpShown, flat_keys, help_text, parse_cli
from ponder.types import PonderError


@dataclass
class Inner:
    """Nested.

    lr: learning rate
    """

    lr: float = 1e-3


@dataclass
class Cfg:
    """A test config.

    steps: how many steps
    mode: which mode
    tags: some tags
    data: task -> file
    quiet: say less
    inner: nested keys
    """

    steps: int = 10
    mode: Literal["a", "b"] = "a"
    tags: list[str] = field(default_factory=list)
    data: dict[str, str] = field(default_factory=dict)
    quiet: bool = False
    inner: Inner = field(default_factory=Inner)


def parse(argv, **kw):
    return parse_cli(Cfg, argv, prog="t", doc="", **kw)


def test_both_value_forms_bools_lists_mappings_and_positionals():
    cfg, rest = parse(["--steps", "3", "--inner.lr=0.5", "--tags", "x,y", "--data", "a=1", "--data.b=2", "--quiet",
                       "text"], max_positionals=1)  # fmt: skip
    assert cfg == Cfg(steps=3, tags=["x", "y"], data={"a": "1", "b": "2"}, quiet=True, inner=Inner(lr=0.5))
    assert rest == ["text"]
    assert parse(["--steps=3", "--steps=4"])[0].steps == 4  # the later one wins


def test_recipe_file_then_overrides(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text("steps: 5\nmode: b\n")
    assert parse([str(f), "--steps=6"], recipe=True)[0] == Cfg(steps=6, mode="b")
    assert parse(["--recipe", str(f)], recipe=True)[0].mode == "b"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--stpes=3"], "unknown config key 'stpes'. Did you mean 'steps'\\? Known keys: steps, mode"),
        (["--inner.lrr=1"], "unknown config key inner.'lrr'"),
        (["--mode=c"], "must be one of"),
        (["--steps"], "--steps needs a value"),
        (["-s", "3"], "unknown option '-s'"),
        (["steps=3"], "unexpected argument 'steps=3' \\(options are written --key=value\\)"),
    ],
)
def test_bad_command_lines_fail_with_one_clear_line(argv, message):
    with pytest.raises(PonderError, match=message):
        parse(argv)


def test_help_lists_every_key_with_type_default_and_doc(capsys):
    with pytest.raises(HelpShown) as e:
        parse(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for line in ["--steps", "int", "10", "how many steps"], ["--inner.lr", "float", "0.001", "learning rate"]:
        row = next(r for r in out.splitlines() if r.strip().startswith(line[0] + " "))
        assert row.split()[:3] == line[:3] and row.endswith(line[3])
    assert "a|b" in out and "dict[str, str]" in out


CLI_CONFIGS = {
    "solve": "ponder.search.cli:SolveConfig",
    "eval": "ponder.eval.grid_config:EvalConfig",
    "label": "ponder.rm.cli:LabelConfig",
    "tasks": "ponder.tasks:TasksConfig",
    "train sft": "ponder.train.sft:SFTConfig",
    "train rft": "ponder.train.rft:RFTConfig",
    "train star": "ponder.train.star:STaRConfig",
    "train grpo": "ponder.train.grpo:GRPOConfig",
    "train dpo": "ponder.train.dpo:DPOConfig",
    "train prm|orm": "ponder.rm.train:RMTrainConfig",
    "train base": "ponder.train.base:BaseConfig",
}


def _config(spec: str) -> type:
    module, name = spec.split(":")
    return vars(importlib.import_module(module))[name]


@pytest.mark.parametrize("name", sorted(CLI_CONFIGS))
def test_every_key_of_a_command_config_has_a_one_line_doc(name):
    cls = _config(CLI_CONFIGS[name])
    undocumented = [key for key, _, _, doc in flat_keys(cls) if not doc]
    assert not undocumented, f"{cls.__name__}: add `key: one line` to the docstring for {undocumented}"


@pytest.mark.parametrize(
    "argv", [["solve", "--help"], ["eval", "--help"], ["train", "grpo", "--help"], ["train", "sft", "--help"],
             ["train", "rft", "--help"], ["train", "star", "--help"], ["train", "dpo", "--help"],
             ["train", "prm", "--help"], ["train", "orm", "-h"], ["label", "--help"],
             ["train", "base", "--help"]],
)  # fmt: skip
def test_every_subcommand_help_lists_its_keys(argv, capsys):
    assert main(argv) == 0
    out = capsys.readouterr().out
    keys = [line.split()[0] for line in out.splitlines() if line.startswith("  --")]
    assert len(keys) >= 6 and any(
        k in keys for k in ("--run.steps", "--steps", "--strategy", "--tasks", "--input", "--k")
    )


def test_help_text_shows_aliases():
    from ponder.eval.cli import ALIASES
    from ponder.eval.grid_config import EvalConfig

    assert "--tasks (--task)" in help_text(EvalConfig, "ponder eval", "", ALIASES)


def test_counting_generator_reports_every_call_and_changes_nothing():
    from ponder.gen.counting import CountingGenerator
    from ponder.gen.fake import FakeGenerator
    from ponder.types import SamplingParams

    seen = []
    gen = FakeGenerator(lambda prompt, i: f"<answer>{i}</answer>")
    counted = CountingGenerator(gen, lambda calls, tokens: seen.append((calls, tokens)))
    params = SamplingParams(n=2, temperature=1.0, max_tokens=20, seed=0)
    outs = counted.generate([counted.render("q1"), counted.render("q2")], params)
    assert [[c.text for c in g] for g in outs] == [[c.text for c in g] for g in gen.generate(["q1", "q2"], params)]
    assert seen == [(1, sum(len(c.token_ids) for g in outs for c in g))] and counted.n_params == gen.n_params
