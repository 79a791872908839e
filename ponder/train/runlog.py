"""Where training numbers go: one jsonl line per logged step (`metrics.jsonl` in the run folder),
TensorBoard scalars when `torch.utils.tensorboard` can be imported, and a rich progress bar that
shows the live reward (or loss). Appending a line is atomic enough for resume: a resumed run
first drops lines from steps after its checkpoint, so the file reads as one unbroken run.

Left out: wandb/mlflow (a TensorBoard folder imports into both).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ponder.io import atomic_write
from ponder.types import PonderError

log = logging.getLogger(__name__)


class MetricsLog:
    def __init__(self, out: str | Path, *, resume_step: int | None = None, tensorboard: bool = True):
        """resume_step None: a fresh run, which refuses to replace a non-empty metrics file."""
        self.path = Path(out) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._truncate_after(resume_step)
        self.tb = _tensorboard(Path(out) / "tb") if tensorboard else None

    def _truncate_after(self, step: int | None) -> None:
        if not self.path.is_file():
            return
        if step is None:
            if self.path.stat().st_size:
                raise PonderError(f"{self.path} holds an earlier run's metrics; choose a new run folder")
            return
        keep = []
        for line in self.path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill
            if rec.get("step", 0) <= step:
                keep.append(line)
        with atomic_write(self.path) as f:  # a kill here leaves the old file, not an empty one
            f.write("".join(k + "\n" for k in keep))

    def write(self, step: int, metrics: dict[str, Any]) -> None:
        rec = {"step": step, **metrics}
        with self.path.open("a") as f:
            f.write(json.dumps(rec, default=float) + "\n")
        if self.tb is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _tensorboard(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder))


class Progress:
    """A rich progress bar over steps with a live status (reward, loss); silent when disabled."""

    def __init__(self, total: int, start: int, label: str, enabled: bool = True):
        self.bar = None
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self.bar = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
        )
        self.task = self.bar.add_task(label, total=total, completed=start, status="")
        self.bar.start()

    def update(self, step: int, status: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=step, status=status)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
