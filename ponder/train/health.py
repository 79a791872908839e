"""A health check that warns loudly when RL training is a no-op or collapsing.

It watches the per-step metrics and raises a warning (logged at WARNING and recorded in the
metrics line under "warnings") when, over a window of recent steps:
- every group had zero reward variance (no gradient signal at all);
- (nearly) every response was truncated at max_tokens;
- mean response length fell below a fraction of its starting value (length collapse);
- policy entropy fell below a fraction of its starting value (entropy collapse);
- the format reward rose while accuracy stayed flat (reward hacking of an additive format bonus).
Thresholds are plain keyword arguments. Left out: automatic stopping (it only warns).
"""

from __future__ import annotations

import logging
from collections import deque

log = logging.getLogger(__name__)


class HealthCheck:
    def __init__(
        self,
        *,
        window: int = 5,
        truncation_max: float = 0.9,
        collapse_frac: float = 0.25,
        format_gain: float = 0.2,
        accuracy_gain: float = 0.02,
    ):
        self.window = window
        self.truncation_max = truncation_max
        self.collapse_frac = collapse_frac
        self.format_gain = format_gain
        self.accuracy_gain = accuracy_gain
        self.recent: deque[dict] = deque(maxlen=window)
        self.first: dict | None = None
        self.history: list[dict] = []

    def _mean(self, key: str) -> float | None:
        vals = [m[key] for m in self.recent if m.get(key) is not None]
        return sum(vals) / len(vals) if vals else None

    def update(self, metrics: dict) -> list[str]:
        """Feed one step's metrics; returns the warnings raised by this step (and logs them)."""
        self.recent.append(metrics)
        self.history.append(metrics)
        if self.first is None:
            self.first = dict(metrics)
        if len(self.recent) < self.window:
            return []
        warnings = [
            w
            for w in (
                self._no_signal(),
                self._truncated(),
                self._collapse("response_len", "length"),
                self._collapse("entropy", "entropy"),
                self._format_hack(),
            )
            if w
        ]
        for w in warnings:
            log.warning("TRAINING HEALTH: %s", w)
        return warnings

    def _no_signal(self) -> str | None:
        zv = self._mean("zero_var_frac")
        if zv is not None and zv >= 1.0:
            return f"all groups had zero reward variance for {self.window} steps: training is a no-op"
        return None

    def _truncated(self) -> str | None:
        tr = self._mean("truncation_rate")
        if tr is not None and tr >= self.truncation_max:
            return f"{tr:.0%} of responses truncated at max_tokens: raise max_tokens or punish overlong"
        return None

    def _collapse(self, key: str, what: str) -> str | None:
        now, start = self._mean(key), (self.first or {}).get(key)
        if now is not None and start and now < self.collapse_frac * start:
            return f"{what} collapse: {key} fell from {start:.3g} to {now:.3g}"
        return None

    def _format_hack(self) -> str | None:
        if len(self.history) < 2 * self.window:
            return None
        early = self.history[: self.window]

        def avg(rows, key):
            vals = [r[key] for r in rows if r.get(key) is not None]
            return sum(vals) / len(vals) if vals else None

        f0, f1 = avg(early, "reward/format"), self._mean("reward/format")
        a0, a1 = avg(early, "accuracy"), self._mean("accuracy")
        if None in (f0, f1, a0, a1):
            return None
        if f1 - f0 >= self.format_gain and a1 - a0 < self.accuracy_gain:
            return f"format reward rose {f0:.2f} -> {f1:.2f} while accuracy stayed flat ({a0:.2f} -> {a1:.2f})"
        return None
