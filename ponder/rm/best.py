"""Early stopping for reward-model training: keep the model with the lowest held-out loss.

`BestKeeper` is told each held-out loss; when one is lower than every earlier one it saves the
model to FOLDER/best (a complete reward-model folder, written beside and then renamed over the
old one, so a crash never leaves half a model) with best.json ({"step", "val_loss"}) inside.
It reads best.json back on start, so a resumed run keeps comparing against the best of the
steps before the interruption. `exhausted` says when `patience` evaluations (at `every` steps
each) have passed without improvement.

Left out: a minimum improvement (min_delta) and smoothing of noisy held-out curves.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

BEST_DIR, BEST_INFO = "best", "best.json"


class BestKeeper:
    def __init__(self, out: str | Path, patience: int = 0, every: int = 1):
        self.folder = Path(out) / BEST_DIR
        self.patience, self.every = patience, max(every, 1)
        self.step, self.loss = 0, float("inf")
        info = self.folder / BEST_INFO
        if info.is_file():
            saved = json.loads(info.read_text())
            self.step, self.loss = int(saved["step"]), float(saved["val_loss"])

    def update(self, step: int, loss: float, save: Callable[[Path], None]) -> bool:
        """Save (via `save(folder)`) when `loss` beats every earlier one; True when it did."""
        if not loss < self.loss:
            return False
        tmp = self.folder.with_name(BEST_DIR + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        save(tmp)
        (tmp / BEST_INFO).write_text(json.dumps({"step": step, "val_loss": loss}) + "\n")
        shutil.rmtree(self.folder, ignore_errors=True)
        tmp.rename(self.folder)
        self.step, self.loss = step, loss
        return True

    def exhausted(self, step: int) -> bool:
        """True once `patience` evaluations have passed since the best one (never when 0)."""
        return self.patience > 0 and self.step > 0 and step - self.step >= self.patience * self.every

    @property
    def saved(self) -> bool:
        return (self.folder / BEST_INFO).is_file()
