"""A pipeline recipe, read and checked whole before anything runs.

A recipe names an output folder, the starting model, the held-out evaluation that follows every
stage, and `stages`: a mapping of stage name -> {type, steps?, evaluate?, ...the type's own
config keys}. A stage reads an earlier stage's output by name with `${stages.NAME.OUTPUT}` in
any string value (`model.name: ${stages.rl.checkpoint}`, `data.path: ${stages.rs.data}`).
Stages run in reference order (the recipe's order among independent stages).

Checked up front, each with one clear line: unknown recipe keys, unknown stage types, a
reference to a stage or output that does not exist, a reference cycle, and every stage's config
(built with the trainer's own dataclass, so its unknown keys and wrong types fail here too).

Left out: stages running in parallel, outputs other than a checkpoint / a data file / a folder.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ponder.config import build_config
from ponder.types import PonderError

REF = re.compile(r"\$\{([^}]*)\}")
RESERVED = ("type", "steps", "evaluate")  # stage keys the pipeline reads; the rest go to the stage


@dataclass(frozen=True)
class StageType:
    """A kind of stage: where its config class and run function live (imported only when used)
    and the outputs a later stage may refer to."""

    module: str
    config: str
    run: str
    outputs: tuple[str, ...]
    trains: bool = True  # writes checkpoints in run.out (else: a data stage writing in `out`)
    rounds: bool = False  # run.steps is rounds x steps_per_round (rft, star, expert): no `steps`


TRAINER_OUTPUTS = ("checkpoint", "best", "out")
STAGE_TYPES: dict[str, StageType] = {
    "sft": StageType("ponder.train.sft", "SFTConfig", "train_sft", TRAINER_OUTPUTS),
    "rft": StageType("ponder.train.rft", "RFTConfig", "train_rft", TRAINER_OUTPUTS, rounds=True),
    "star": StageType("ponder.train.star", "STaRConfig", "train_star", TRAINER_OUTPUTS, rounds=True),
    "expert": StageType("ponder.data.expert", "ExpertConfig", "train_expert", TRAINER_OUTPUTS, rounds=True),
    "grpo": StageType("ponder.train.grpo", "GRPOConfig", "train_grpo", TRAINER_OUTPUTS),
    "dpo": StageType("ponder.train.dpo", "DPOConfig", "train_dpo", TRAINER_OUTPUTS),
    "data": StageType("ponder.data.cli", "DataConfig", "run_data", ("data", "out"), trains=False),
    "mix": StageType("ponder.pipeline.mix", "MixConfig", "run_mix", ("data", "out"), trains=False),
}


@dataclass
class PipelineEval:
    """The held-out evaluation after the start and after every stage.

    tasks: tasks to evaluate on (`countdown:3` for level 3)
    n: held-out problems per task
    seed: seed of the held-out problems (differs from the training seeds)
    max_tokens: token limit of each greedy answer
    """

    tasks: list[str] = field(default_factory=lambda: ["countdown:3"])
    n: int = 200
    seed: int = 12345
    max_tokens: int = 200


@dataclass
class PipelineConfig:
    """A multi-stage training run (ponder/pipeline/recipe.py).

    out: pipeline folder: one sub-folder per stage, report.html, summary.json
    model: the starting model (evaluated as the first row of the table)
    eval: held-out evaluation after every stage
    stages: stage name -> {type, steps, evaluate, ...the stage type's config keys}
    until: run the stages up to this one only (null: all); the whole recipe is still checked
    threads: torch CPU threads for the evaluations
    quiet: no progress bars
    """

    out: str = "runs/pipeline"
    model: str = "tiny"
    eval: PipelineEval = field(default_factory=PipelineEval)
    stages: dict[str, Any] = field(default_factory=dict)
    until: str | None = None
    threads: int = 1
    quiet: bool = False


@dataclass
class Stage:
    """One checked stage: its name, type, the stage's config (references filled in) and the
    stages it reads from."""

    name: str
    kind: str
    config: Any
    needs: list[str]
    evaluate: bool
    folder: Path


def stage_type(kind: Any, name: str) -> StageType:
    if not isinstance(kind, str) or kind not in STAGE_TYPES:
        raise PonderError(f"stage {name!r}: unknown type {kind!r}; known: {', '.join(STAGE_TYPES)}")
    return STAGE_TYPES[kind]


def output_path(folder: Path, kind: str, output: str) -> str:
    """Where a stage's output will be (it need not exist yet)."""
    if output == "out":
        return str(folder)
    if output == "data":
        return str(folder / "data.jsonl")
    return str(folder / ("latest" if output == "checkpoint" else "best"))  # checkpoint aliases


def references(value: Any) -> list[str]:
    """Every `${...}` body in the strings of a nested value."""
    if isinstance(value, str):
        return REF.findall(value)
    if isinstance(value, dict):
        return [r for v in value.values() for r in references(v)]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    return []


def _target(ref: str, name: str, specs: dict[str, dict]) -> tuple[str, str]:
    parts = ref.split(".")
    if len(parts) != 3 or parts[0] != "stages":
        raise PonderError(f"stage {name!r}: reference ${{{ref}}} must read ${{stages.NAME.OUTPUT}}")
    _, other, output = parts
    if other not in specs:
        raise PonderError(f"stage {name!r} refers to ${{{ref}}}: no stage {other!r}; stages: {', '.join(specs)}")
    outputs = stage_type(specs[other].get("type"), other).outputs
    if output not in outputs:
        raise PonderError(
            f"stage {name!r} refers to ${{{ref}}}: a {specs[other]['type']} stage has no output {output!r}; "
            f"it has {', '.join(outputs)}"
        )
    return other, output


def _substitute(value: Any, paths: dict[str, str]) -> Any:
    if isinstance(value, str):
        return REF.sub(lambda m: paths[m.group(1)], value)
    if isinstance(value, dict):
        return {k: _substitute(v, paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, paths) for v in value]
    return value


def run_order(needs: dict[str, list[str]]) -> list[str]:
    """Stage names so that every stage comes after those it reads from (recipe order otherwise);
    a reference cycle is an error naming it."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "open":
            cycle = trail[trail.index(name) :] + [name]
            raise PonderError(f"stage references form a cycle: {' -> '.join(cycle)}")
        state[name] = "open"
        for other in needs[name]:
            visit(other, trail + [name])
        state[name] = "done"
        order.append(name)

    for name in needs:
        visit(name, [])
    return order


def _stage_data(name: str, spec: dict, folder: Path, paths: dict[str, str]) -> dict:
    """The stage's config as plain data: references filled, the pipeline's keys set."""
    kind = spec["type"]
    data = _substitute({k: v for k, v in spec.items() if k not in RESERVED}, paths)
    if not STAGE_TYPES[kind].trains:
        if "steps" in spec:
            raise PonderError(f"stage {name!r}: a {kind} stage has no steps")
        if "out" in data:
            raise PonderError(f"stage {name!r}: `out` is set by the pipeline ({folder})")
        return {**data, "out": str(folder)}
    if "steps" in spec and STAGE_TYPES[kind].rounds:
        raise PonderError(f"stage {name!r}: a {kind} stage runs rounds x steps_per_round steps; set those, not steps")
    run = dict(data.get("run") or {})
    if "out" in run:
        raise PonderError(f"stage {name!r}: run.out is set by the pipeline ({folder})")
    run["out"] = str(folder)
    if "steps" in spec:
        run["steps"] = spec["steps"]
    return {**data, "run": run}


def check_stages(cfg: PipelineConfig) -> list[Stage]:
    """Every stage checked and built, in run order; raises PonderError on the first problem."""
    specs = cfg.stages
    if not specs:
        raise PonderError("the recipe has no stages")
    needs: dict[str, list[str]] = {}
    for name, spec in specs.items():
        if not isinstance(spec, dict) or "type" not in spec:
            raise PonderError(f"stage {name!r} must be a mapping with a `type` ({', '.join(STAGE_TYPES)})")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", str(name)):
            raise PonderError(f"stage name {name!r}: use letters, digits, - and _ (it names a folder)")
        stage_type(spec["type"], name)
    for name, spec in specs.items():
        targets = [_target(ref, name, specs) for ref in references(spec)]
        needs[name] = list(dict.fromkeys(t[0] for t in targets))
    order = run_order(needs)
    out = Path(cfg.out)
    paths = {
        f"stages.{n}.{o}": output_path(out / n, specs[n]["type"], o)
        for n in specs
        for o in STAGE_TYPES[specs[n]["type"]].outputs
    }
    stages = []
    for name in order:
        spec, folder = specs[name], out / name
        kind = STAGE_TYPES[spec["type"]]
        cls = vars(importlib.import_module(kind.module))[kind.config]
        evaluate = spec.get("evaluate", True)
        if not isinstance(evaluate, bool):
            raise PonderError(f"stage {name!r}: evaluate must be true or false, got {evaluate!r}")
        config = build_config(cls, _stage_data(name, spec, folder, paths), prefix=f"stages.{name}.")
        stages.append(Stage(name, spec["type"], config, needs[name], evaluate and kind.trains, folder))
    if cfg.until is None:
        return stages
    if cfg.until not in specs:
        raise PonderError(f"until: no stage {cfg.until!r}; stages: {', '.join(specs)}")
    return stages[: order.index(cfg.until) + 1]
