"""Server metrics in the Prometheus text format (version 0.0.4), without a client library.

Counters: requests by endpoint and status, errors by status, prompt / completion / reasoning
tokens returned, tokens the searches generated, generator calls and prompts of the batcher.
Gauges: requests running, requests waiting for a slot, generator calls queued in the batcher.
Histogram: request latency in seconds by endpoint. Left out: per-model labels, summaries.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable

BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}"


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[str, dict[tuple, float]] = defaultdict(lambda: defaultdict(float))
        self.hist: dict[tuple, list[float]] = {}  # labels -> bucket counts + [sum, count]
        self.gauges: dict[str, Callable[[], float]] = {}
        self.help: dict[str, str] = {}

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        with self._lock:
            self.counters[name][tuple(sorted(labels.items()))] += value

    def observe(self, seconds: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            h = self.hist.setdefault(key, [0.0] * (len(BUCKETS) + 2))
            for i, b in enumerate(BUCKETS):
                if seconds <= b:
                    h[i] += 1
            h[-2] += seconds
            h[-1] += 1

    def gauge(self, name: str, fn: Callable[[], float], help: str) -> None:
        self.gauges[name] = fn
        self.help[name] = help

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            for name, series in sorted(self.counters.items()):
                lines.append(f"# TYPE ponder_{name} counter")
                lines += [f"ponder_{name}{_labels(k)} {v:g}" for k, v in sorted(series.items())]
            lines.append("# TYPE ponder_request_seconds histogram")
            for key, h in sorted(self.hist.items()):
                for i, b in enumerate(BUCKETS):
                    lines.append(f"ponder_request_seconds_bucket{_labels(key + (('le', f'{b:g}'),))} {h[i]:g}")
                lines.append(f"ponder_request_seconds_bucket{_labels(key + (('le', '+Inf'),))} {h[-1]:g}")
                lines.append(f"ponder_request_seconds_sum{_labels(key)} {h[-2]:.6f}")
                lines.append(f"ponder_request_seconds_count{_labels(key)} {h[-1]:g}")
        for name, fn in sorted(self.gauges.items()):
            lines += [
                f"# HELP ponder_{name} {self.help[name]}",
                f"# TYPE ponder_{name} gauge",
                f"ponder_{name} {fn():g}",
            ]
        return "\n".join(lines) + "\n"
