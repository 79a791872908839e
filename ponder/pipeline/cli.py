"""`ponder pipeline RECIPE [--key=value ...]`: a multi-stage training run from one recipe.

    ponder pipeline r1_zero_tiny                      # a shipped recipe, by name
    ponder pipeline my_recipe.yaml --out=runs/mine
    ponder pipeline r1_tiny --stages.rl.steps=5 --eval.n=50

Stages are the trainers (sft, rft, star, grpo, dpo) and `data`; a stage reads an earlier one's
output as ${stages.NAME.checkpoint} / ${stages.NAME.data}. Every stage is followed by held-out
greedy accuracy (95% intervals); a finished stage is skipped on a rerun, a cut one resumes from
its checkpoint. Writes OUT/NAME/ per stage, OUT/summary.json and OUT/report.html.
Any recipe key can be overridden: --stages.NAME.KEY=V reaches a stage's own config
(--stages.rl.optim.lr=1e-5); --stages.NAME.steps sets a trainer's run.steps.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from ponder.pipeline.recipe import STAGE_TYPES
from ponder.types import PonderError

RECIPES = Path(__file__).resolve().parent / "recipes"


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPES.glob("*.yaml"))


def find_recipe(spec: str) -> Path:
    """A recipe file path, or the name of a shipped recipe (ponder/pipeline/recipes/NAME.yaml)."""
    path = Path(spec)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise PonderError(f"recipe file not found: {path}")
        return path
    if (RECIPES / f"{spec}.yaml").is_file():
        return RECIPES / f"{spec}.yaml"
    raise PonderError(f"no recipe {spec!r}: give a YAML file or one of {', '.join(recipe_names())}")


def load(argv: list[str]):
    """The PipelineConfig a command line gives (recipe, then overrides)."""
    from ponder.cliargs import HelpShown, help_text, split_argv
    from ponder.config import load_yaml, with_overrides
    from ponder.pipeline.recipe import PipelineConfig

    prog = "ponder pipeline RECIPE [--key=value ...]"
    if any(a in ("-h", "--help") for a in argv):
        print(help_text(PipelineConfig, prog, __doc__ + f"\nShipped recipes: {', '.join(recipe_names())}"))
        raise HelpShown
    parsed = split_argv(PipelineConfig, argv, recipe=True)
    specs = ([parsed.recipe] if parsed.recipe else []) + parsed.positionals
    if len(specs) != 1:
        raise PonderError(f"give one recipe (a YAML file or one of {', '.join(recipe_names())}), got {specs or 'none'}")
    cfg = with_overrides(PipelineConfig, load_yaml(find_recipe(specs[0])), parsed.overrides)
    if cfg.quiet:
        quiet_stages(cfg.stages)
    return cfg


def quiet_stages(stages: dict) -> None:
    """No progress bars in any stage (a stage's own setting wins)."""
    for spec in stages.values():
        if not isinstance(spec, dict):
            continue  # check_stages names the problem
        if spec.get("type") == "data":
            spec.setdefault("quiet", True)
        elif spec.get("type") in STAGE_TYPES and STAGE_TYPES[spec["type"]].trains:
            spec.setdefault("run", {}).setdefault("progress", False)


def main(argv: list[str]) -> int:
    from ponder.pipeline.run import run_pipeline

    cfg = load(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    summary = run_pipeline(cfg, say)
    for row in summary["table"]:
        print(f"{row['stage']:<12} {row['task']:<14} {row['accuracy']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]")
    print(f"report: {Path(cfg.out) / 'report.html'}; summary: {Path(cfg.out) / 'summary.json'}")
    return 0
