"""Running a checked pipeline: the starting model's evaluation, then every stage in order, each
skipped when done, resumed when cut short, and followed by its evaluation; then the report.

State lives beside the stage folders: `OUT/NAME.stage.json` is written when a stage and its
evaluation have finished (its config, seconds, result, accuracies) and is what "done" means. A
stage without it is run again: trainers continue from their newest checkpoint in OUT/NAME
(train/checkpoint.py), a data stage from the rollouts already in OUT/NAME/rollouts.jsonl, so a
killed pipeline resumes at the stage and step where it died. A finished stage whose recipe has
changed since is an error before anything runs (its outputs would no longer match the recipe).

Left out: re-running a finished stage on request (delete OUT/NAME.stage.json and OUT/NAME).
"""

from __future__ import annotations

import importlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ponder.config import to_dict
from ponder.io import write_json
from ponder.pipeline.evaluate import check_tasks, evaluate_model
from ponder.pipeline.recipe import STAGE_TYPES, PipelineConfig, Stage, check_stages
from ponder.types import PonderError

log = logging.getLogger(__name__)
START = "start"


def state_path(out: Path, name: str) -> Path:
    return out / f"{name}.stage.json"


def read_state(out: Path, name: str) -> dict | None:
    path = state_path(out, name)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _plain(config: Any) -> dict:
    """A stage config as JSON data (tuples become lists, as they read back from the file)."""
    return json.loads(json.dumps(to_dict(config), default=str))


def _flat(data: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in data.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) and v else {prefix + k: v})
    return out


DISPLAY_KEYS = ("run.progress", "quiet")  # how a stage shows progress does not change its outputs


def check_done_unchanged(out: Path, stages: list[Stage], eval_config: dict) -> None:
    """A finished stage must have been run, and evaluated, as the recipe says now."""
    for st in stages:
        state = read_state(out, st.name)
        if state is None:
            continue
        if state.get("eval_config") != eval_config:
            raise PonderError(
                f"stage {st.name!r} finished in {out} with another eval block; choose a new --out "
                f"(the accuracy table would mix two evaluations)"
            )
        before, now = _flat(state["config"]), _flat(_plain(st.config))
        diff = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k) and k not in DISPLAY_KEYS)
        if diff:
            raise PonderError(
                f"stage {st.name!r} finished in {out} with other settings ({', '.join(diff)}); "
                f"choose a new --out, or delete {state_path(out, st.name)} and {st.folder} to run it again"
            )


def _brief(kind: str, result: dict) -> dict:
    """What the summary keeps of a trainer's summary or a data card."""
    if kind == "data":
        return {
            k: result.get(k) for k in ("rollouts", "kept", "problems", "kept_problems", "mean_pass_rate", "filters")
        }
    if not STAGE_TYPES[kind].trains:
        return result
    return {k: result.get(k) for k in ("steps", "start_step", "before", "after", "warnings", "final_metrics")}


def run_stage(st: Stage, say: Callable[[str], None], eval_fn: Callable[[str], dict]) -> dict:
    """Run (or resume) one stage and its evaluation; returns the state written for it."""
    kind = STAGE_TYPES[st.kind]
    fn = vars(importlib.import_module(kind.module))[kind.run]
    config = _plain(st.config)  # before the run: some trainers fill in keys (rft: run.steps)
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn(st.config)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    state = {"name": st.name, "type": st.kind, "config": config, "seconds": seconds, "cpu_seconds": cpu}
    state["result"] = _brief(st.kind, result)
    if kind.trains:
        latest = (st.folder / "latest").read_text(encoding="utf-8").strip()
        state["checkpoint"] = str(st.folder / latest)
    if st.evaluate:
        say(f"{st.name}: evaluating {state.get('checkpoint')}")
        t1 = time.perf_counter()
        state["eval"] = eval_fn(state["checkpoint"])
        state["eval_seconds"] = time.perf_counter() - t1
    return state


def _start_eval(cfg: PipelineConfig, out: Path, say: Callable[[str], None]) -> dict:
    state = read_state(out, START)
    if state is not None and state.get("model") == cfg.model and state.get("eval_config") == to_dict(cfg.eval):
        say(f"{START}: done, skipped")
        return state
    say(f"{START}: evaluating {cfg.model}")
    t0 = time.perf_counter()
    state = {"name": START, "type": "model", "model": cfg.model, "eval_config": to_dict(cfg.eval)}
    state["eval"] = evaluate_model(cfg.model, cfg.eval)
    state["eval_seconds"] = time.perf_counter() - t0
    write_json(state_path(out, START), state)
    return state


def run_pipeline(cfg: PipelineConfig, say: Callable[[str], None] = log.info) -> dict:
    """Check everything, run what is not done, write summary.json and report.html; returns the
    summary."""
    from ponder.pipeline.report import write_report

    stages = check_stages(cfg)
    check_tasks(cfg.eval)
    out = Path(cfg.out)
    check_done_unchanged(out, stages, to_dict(cfg.eval))
    out.mkdir(parents=True, exist_ok=True)
    from ponder.train.common import set_threads

    set_threads(cfg.threads)
    states = [_start_eval(cfg, out, say)]
    for i, st in enumerate(stages, 1):
        state = read_state(out, st.name)
        if state is not None:
            say(f"[{i}/{len(stages)}] {st.name} ({st.kind}): done, skipped")
        else:
            resumed = " (resuming)" if st.folder.exists() else ""
            say(f"[{i}/{len(stages)}] {st.name} ({st.kind}): running{resumed}")
            state = run_stage(st, say, lambda model: evaluate_model(model, cfg.eval))
            state["eval_config"] = to_dict(cfg.eval)
            set_threads(cfg.threads)  # a trainer sets its own run.threads
            write_json(state_path(out, st.name), state)
        states.append(state)
        if "eval" in state:
            accs = ", ".join(f"{t} {r['accuracy']:.3f}" for t, r in state["eval"].items())
            say(f"{st.name}: {accs}")
    return write_report(cfg, states, out)
