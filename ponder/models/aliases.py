"""Checkpoint aliases: `RUN/latest` and `RUN/best` name a checkpoint of a training run folder
RUN (one that holds `ckpt-STEP/` folders). `latest` is the checkpoint RUN's `latest` file names
(else the highest step); `best` is the checkpoint at the step with the highest recorded held-out
accuracy (`eval/accuracy` in RUN/metrics.jsonl; ties go to the later step). A run that recorded
no evaluation at a checkpoint's step has no `best`: that is an error, never a silent fallback.

Left out: other metrics for `best` (only `eval/accuracy` is recorded by the trainers today),
aliases of aliases, remote runs.
"""

from __future__ import annotations

import re
from pathlib import Path

from ponder.io import read_log
from ponder.types import PonderError

ALIASES = ("latest", "best")
_CKPT = re.compile(r"^ckpt-(\d+)$")
METRIC = "eval/accuracy"


def _checkpoints(run: Path) -> dict[int, Path]:
    return {int(m[1]): p for p in run.iterdir() if p.is_dir() and (m := _CKPT.match(p.name))}


def _latest(run: Path, ckpts: dict[int, Path]) -> Path:
    named = (run / "latest").read_text(encoding="utf-8").strip() if (run / "latest").is_file() else ""
    if named and (run / named).is_dir():
        return run / named
    return ckpts[max(ckpts)]


def _eval_by_step(run: Path) -> dict[int, float]:
    """{step: eval/accuracy} from RUN/metrics.jsonl (a line cut by a kill is skipped)."""
    out = {}
    for rec in read_log(run / "metrics.jsonl"):
        if isinstance(rec.get(METRIC), (int, float)) and isinstance(rec.get("step"), int):
            out[rec["step"]] = float(rec[METRIC])
    return out


def _best(run: Path, ckpts: dict[int, Path]) -> Path:
    scores = _eval_by_step(run)
    scored = [(scores[s], s) for s in ckpts if s in scores]
    if not scored:
        raise PonderError(
            f"{run}/best: the run recorded no {METRIC} at any checkpoint's step "
            f"(checkpoints: {', '.join(p.name for p in ckpts.values())}); train with --eval.n and "
            f"--eval.every matching --run.save-every, or name a checkpoint ({run}/latest or {run}/ckpt-N)"
        )
    return ckpts[max(scored)[1]]


def resolve_alias(name: str) -> Path | None:
    """`RUN/latest` or `RUN/best` -> that checkpoint's folder; None when `name` is no alias (its
    last part is not an alias, or RUN is not a local folder). An alias of a run folder without
    checkpoints is an error."""
    path = Path(name).expanduser()
    if path.name not in ALIASES or path.exists() and path.is_dir() or not path.parent.is_dir():
        return None
    run = path.parent
    ckpts = _checkpoints(run)
    if not ckpts:
        raise PonderError(f"{name}: {run} holds no ckpt-STEP checkpoint folders, so it has no {path.name!r}")
    return _latest(run, ckpts) if path.name == "latest" else _best(run, ckpts)
