"""Bootstrap confidence intervals over problems and over seeds (percentile method).

`bootstrap_ci` takes a (S, P) matrix of per-seed, per-problem scores and resamples both axes
independently (a two-level bootstrap: seeds with replacement, problems with replacement), so the
interval reflects both which problems were drawn and which random seed the run had. With one seed
it is the ordinary bootstrap over problems. `paired_diff_ci` bootstraps the mean difference of two
systems on the same problems (resampling problems jointly), for comparisons.
Left out: BCa intervals; clustered problems (each problem is treated as independent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float


def _as_matrix(values: Sequence[float] | Sequence[Sequence[float]]) -> np.ndarray:
    m = np.asarray(values, dtype=float)
    if m.ndim == 1:
        m = m[None, :]
    if m.ndim != 2 or m.size == 0:
        raise ValueError(f"expected a non-empty (seeds, problems) matrix, got shape {m.shape}")
    return m


def bootstrap_ci(
    values: Sequence[float] | Sequence[Sequence[float]],
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Mean and percentile CI of a (S, P) or (P,) score matrix, resampling seeds and problems."""
    m = _as_matrix(values)  # (S, P)
    s, p = m.shape
    rng = np.random.default_rng(seed)
    seed_idx = rng.integers(0, s, size=(n_boot, s))  # (B, S)
    prob_idx = rng.integers(0, p, size=(n_boot, p))  # (B, P)
    # (B, S, P) gathered lazily per replicate to keep memory at O(S * P)
    means = np.array([m[seed_idx[b]][:, prob_idx[b]].mean() for b in range(n_boot)])  # (B,)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return Interval(float(m.mean()), float(low), float(high))


def paired_diff_ci(
    a: Sequence[float], b: Sequence[float], *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> Interval:
    """Mean of b - a over the same problems (P,), with a bootstrap CI that resamples problems."""
    diff = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)  # (P,)
    if diff.ndim != 1 or diff.size == 0:
        raise ValueError("paired difference needs two equal-length, non-empty lists")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, diff.size, size=(n_boot, diff.size))  # (B, P)
    means = diff[idx].mean(axis=1)  # (B,)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return Interval(float(diff.mean()), float(low), float(high))
