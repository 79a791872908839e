"""A pipeline recipe is checked whole before anything runs: unknown keys and stage types, references
to missing stages or outputs, cycles, keys the pipeline owns. No model is loaded here."""

from __future__ import annotations

import pytest

from ponder.pipeline.cli import find_recipe, load, recipe_names
from ponder.pipeline.recipe import check_stages, run_order
from ponder.pipeline.run import run_pipeline
from ponder.types import PonderError


def _load(tmp_path, text: str, *overrides: str):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return load([str(path), f"--out={tmp_path / 'out'}", *overrides])


TWO = """
stages:
  first: {type: grpo, steps: 3}
  second: {type: sft, model: {name: "${stages.first.checkpoint}"}, data: {path: "${stages.d.data}"}}
  d: {type: data, task: arithmetic, model: "${stages.first.checkpoint}"}
"""


def test_references_fill_paths_and_order_the_stages(tmp_path):
    stages = check_stages(_load(tmp_path, TWO))
    assert [s.name for s in stages] == ["first", "d", "second"]  # d moves before the stage reading it
    first, d, second = stages
    out = tmp_path / "out"
    assert first.config.run.out == str(out / "first") and first.config.run.steps == 3
    assert second.config.model.name == str(out / "first" / "latest")
    assert second.config.data.path == str(out / "d" / "data.jsonl")
    assert d.config.out == str(out / "d") and d.needs == ["first"] and second.needs == ["first", "d"]
    assert first.evaluate and second.evaluate and not d.evaluate  # a data stage has no model of its own


def test_command_line_overrides_reach_a_stage(tmp_path):
    cfg = _load(tmp_path, TWO, "--stages.first.steps=5", "--stages.second.optim.lr=0.5", "--eval.n=7")
    first, _, second = check_stages(cfg)
    assert first.config.run.steps == 5 and second.config.optim.lr == 0.5 and cfg.eval.n == 7


@pytest.mark.parametrize(
    "stages, message",
    [
        ("a: {type: ppo}", "unknown type 'ppo'; known: sft"),
        ("a: {type: [grpo]}", "unknown type ['grpo']"),
        ("a: {type: grpo, colour: red}", "unknown config key stages.a.'colour'"),
        ("a: {type: grpo, optim: {lr: fast}}", "stages.a.optim.lr' must be a number"),
        ("a: {type: sft, model: {name: '${stages.b.checkpoint}'}}", "no stage 'b'; stages: a"),
        (
            "b: {type: data, task: arithmetic}\n  a: {type: sft, model: {name: '${stages.b.checkpoint}'}}",
            "a data stage has no output 'checkpoint'; it has data, out",
        ),
        ("a: {type: sft, model: {name: '${b.checkpoint}'}}", "must read ${stages.NAME.OUTPUT}"),
        ("a: {type: sft, model: {name: '${stages.a.checkpoint}'}}", "cycle: a -> a"),
        (
            "a: {type: sft, model: {name: '${stages.b.checkpoint}'}}\n  b: {type: sft, model: {name: '${stages.a.checkpoint}'}}",
            "cycle: a -> b -> a",
        ),
        ("a: {type: grpo, run: {out: elsewhere}}", "run.out is set by the pipeline"),
        ("a: {type: data, task: arithmetic, steps: 3}", "a data stage has no steps"),
        ("a: {type: expert, steps: 3}", "runs rounds x steps_per_round steps"),
        ("a: {type: grpo, evaluate: sometimes}", "evaluate must be true or false"),
        ("a: [grpo]", "must be a mapping with a `type`"),
        ("a/b: {type: grpo}", "use letters, digits"),
    ],
)
def test_bad_recipes_fail_with_one_clear_line(tmp_path, stages, message):
    cfg = _load(tmp_path, "stages:\n  " + stages + "\n")
    with pytest.raises(PonderError, match=None) as e:
        check_stages(cfg)
    assert message in str(e.value)


def test_nothing_runs_when_any_stage_is_bad(tmp_path):
    """The bad stage is the last; the first (valid) one must not have started."""
    cfg = _load(tmp_path, "stages:\n  a: {type: grpo}\n  b: {type: sft, data: {path: '${stages.a.data}'}}\n")
    with pytest.raises(PonderError, match="no output 'data'"):
        run_pipeline(cfg, say=lambda line: None)
    assert not (tmp_path / "out").exists()


def test_unknown_top_level_keys_and_eval_tasks_fail(tmp_path):
    with pytest.raises(PonderError, match="unknown config key 'stagse'"):
        _load(tmp_path, "stagse: {}\n")
    cfg = _load(tmp_path, "eval: {tasks: [nonesuch]}\nstages:\n  a: {type: grpo}\n")
    with pytest.raises(PonderError, match="nonesuch"):
        run_pipeline(cfg, say=lambda line: None)
    assert not (tmp_path / "out").exists()


def test_until_runs_a_prefix_but_checks_the_whole_recipe(tmp_path):
    assert [s.name for s in check_stages(_load(tmp_path, TWO, "--until=d"))] == ["first", "d"]
    with pytest.raises(PonderError, match="until: no stage 'nope'"):
        check_stages(_load(tmp_path, TWO, "--until=nope"))
    bad = TWO + "  e: {type: sft, colour: red}\n"
    with pytest.raises(PonderError, match="colour"):
        check_stages(_load(tmp_path, bad, "--until=first"))


def test_run_order_keeps_recipe_order_among_independent_stages():
    assert run_order({"a": [], "b": [], "c": ["a"]}) == ["a", "b", "c"]
    assert run_order({"c": ["b"], "b": ["a"], "a": []}) == ["a", "b", "c"]


def test_shipped_recipes_are_checked_and_found_by_name():
    assert {"r1_zero_tiny", "r1_tiny", "distill_tiny"} <= set(recipe_names())
    for name in recipe_names():
        text = find_recipe(name).read_text()
        assert text.startswith("#") and "Should reach" in text  # STYLE.md 14: what it reproduces
        assert check_stages(load([name]))
    kinds = [s.kind for s in check_stages(load(["r1_tiny"]))]
    assert kinds == ["data", "sft", "grpo", "data", "data", "mix", "sft", "grpo"]
    assert {"r1_zero_mixed_tiny"} <= set(recipe_names())
    with pytest.raises(PonderError, match="no recipe 'nope'"):
        find_recipe("nope")
