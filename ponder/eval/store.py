"""The run folder of an evaluation, written so that nothing finished is ever lost.

    run.json       resolved config, machine, load average
    cells.json     one row per cell: status "ok" | "error" (with the error), seconds
    results.jsonl  one record per problem x cell (see cells.py)
    summary.json   one row per configuration (seeds pooled), rebuilt from the two above
    pools/*.jsonl  sample pools; trees/*.jsonl  search trees, one line per problem

Every file is replaced atomically. A cell counts as finished only once its row in cells.json
says "ok", which is written after its records, so a crash between the two re-runs the cell.
Left out: locking against two processes writing one folder at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from pathlib import Path
from typing import Any

from ponder.eval.cells import CellOutput
from ponder.eval.grid_config import Cell, EvalConfig, identity
from ponder.io import read_jsonl, write_json, write_jsonl
from ponder.types import PonderError


def slug(text: str) -> str:
    """A file-name-safe, unique name for a cell or pool key."""
    short = re.sub(r"[^A-Za-z0-9.+-]+", "_", text)[-60:].strip("_")
    return f"{short}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()]}


class RunStore:
    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.results_path = self.out / "results.jsonl"
        self.cells_path = self.out / "cells.json"
        self.summary_path = self.out / "summary.json"
        self.run_path = self.out / "run.json"

    def start(self, cfg: EvalConfig) -> None:
        """Record the config; refuse a folder made with a config that gives other results."""
        if self.run_path.is_file():
            old = json.loads(self.run_path.read_text()).get("identity", {})
            new = json.loads(json.dumps(identity(cfg)))
            diff = [k for k in new if old.get(k) != new[k]]
            if diff:
                k = diff[0]
                raise PonderError(
                    f"{self.out} was made with {k}={old.get(k)!r}, now {new[k]!r}; use another --out to keep both"
                )
        write_json(self.run_path, {"config": vars(cfg), "identity": identity(cfg), "machine": machine()})

    def cell_rows(self) -> dict[str, dict[str, Any]]:
        if not self.cells_path.is_file():
            return {}
        return {row["cell"]: row for row in json.loads(self.cells_path.read_text())}

    def finished(self) -> set[str]:
        return {key for key, row in self.cell_rows().items() if row["status"] == "ok"}

    def results(self) -> list[dict[str, Any]]:
        if not self.results_path.is_file() or self.results_path.stat().st_size == 0:
            return []
        return read_jsonl(self.results_path)

    def pool_path(self, task: str, model: str, seed: int) -> Path:
        return self.out / "pools" / f"{slug(f'{task}|{model}|s{seed}')}.jsonl"

    def tree_path(self, cell: Cell) -> Path:
        return self.out / "trees" / f"{slug(cell.key)}.jsonl"

    def save_ok(self, cell: Cell, output: CellOutput) -> None:
        kept = [r for r in self.results() if r["cell"] != cell.key]
        write_jsonl(self.results_path, kept + output.records)
        if output.trees:
            write_jsonl(self.tree_path(cell), output.trees)
        self._set_row(cell, {"status": "ok", "error": None, "seconds": output.seconds})

    def save_error(self, cell: Cell, error: BaseException) -> None:
        self._set_row(cell, {"status": "error", "error": f"{type(error).__name__}: {error}", "seconds": None})

    def _set_row(self, cell: Cell, fields: dict[str, Any]) -> None:
        rows = self.cell_rows()
        rows[cell.key] = {"cell": cell.key, "task": cell.task, "model": cell.model, "strategy": cell.strategy,
                          "budget": cell.budget, "seed": cell.seed} | fields  # fmt: skip
        write_json(self.cells_path, list(rows.values()))


def load_summary(run: str | Path) -> list[dict[str, Any]]:
    path = Path(run) / "summary.json"
    if not path.is_file():
        raise PonderError(f"{run} has no summary.json; run `ponder eval --out {run} ...` first")
    rows = json.loads(path.read_text())
    if not isinstance(rows, list):
        raise PonderError(f"{path} is not a list of rows; was it written by ponder eval?")
    return rows
