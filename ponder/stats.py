"""Small, dependency-free statistics that several floors need: the Wilson score interval for a
proportion (training's held-out evaluation and eval's reports both quote it). Lives on floor 0
so that train/ can use it without importing eval/. Left out: everything with resampling (eval's
bootstrap lives in eval/estimators.py)."""

from __future__ import annotations

import math


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for k successes out of n (Wilson 1927); (0, 1) when n = 0."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))
