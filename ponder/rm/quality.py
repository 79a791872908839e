"""How good is a step label or a PRM? Pure functions comparing predicted step labels or scores
with exact ones.

- `step_agreement`: fraction of labelled steps where thresholded predictions equal the truth,
  and the mean absolute error of soft predictions (Monte-Carlo labels vs exact labels).
- `error_f1`: step-level precision / recall / F1 with "erroneous step" as the positive class
  (the rare, interesting class; a PRM that calls every step fine scores 0).
- `processbench`: first-error-step identification (Zheng et al. 2024, ProcessBench): accuracy on
  traces that contain an error (the predicted first error must be the true one), accuracy on
  error-free traces (must predict none, -1), and their harmonic mean as F1.
- `step_auroc`: threshold-free ranking of valid over erroneous steps.
- `best_of_n_accuracy` / `pick_aggregation`: what a PRM is for in search: per problem, pick the
  sample whose aggregated step scores are highest (first on ties, as best_of_n does) and count
  the right picks; `pick_aggregation` chooses the aggregation on held-out groups.

Steps whose true label is None are ignored everywhere; an undefined metric (no steps, or no
traces on one side) is None, so results stay strict JSON.
"""

from __future__ import annotations

from ponder.rm.labels import first_error
from ponder.types import PonderError

Labels = list[list[float | None]]


def _pairs(pred: Labels, truth: Labels) -> list[tuple[float, float]]:
    if len(pred) != len(truth):
        raise PonderError(f"{len(pred)} predicted traces but {len(truth)} true ones")
    out = []
    for i, (p, t) in enumerate(zip(pred, truth)):
        if len(p) != len(t):
            raise PonderError(f"trace {i}: {len(p)} predicted step labels but {len(t)} true ones")
        out += [(a, b) for a, b in zip(p, t) if a is not None and b is not None]
    return out


def _rate(hits: list[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


def step_agreement(pred: Labels, truth: Labels, threshold: float = 0.5) -> dict[str, float | None]:
    """{accuracy, acc_valid, acc_error, balanced, mae, n}: agreement of thresholded predictions with
    the truth over labelled steps; acc_valid / acc_error are the agreement on truly valid / truly
    erroneous steps (a constant predictor scores 1 on one and 0 on the other), balanced their mean."""
    pairs = _pairs(pred, truth)
    if not pairs:
        return {"accuracy": None, "acc_valid": None, "acc_error": None, "balanced": None, "mae": None, "n": 0}
    same = [(a >= threshold) == (b >= threshold) for a, b in pairs]
    acc_v = _rate([h for h, (_, b) in zip(same, pairs) if b >= threshold])
    acc_e = _rate([h for h, (_, b) in zip(same, pairs) if b < threshold])
    balanced = None if acc_v is None or acc_e is None else (acc_v + acc_e) / 2
    mae = sum(abs(a - b) for a, b in pairs) / len(pairs)
    return {
        "accuracy": _rate(same),
        "acc_valid": acc_v,
        "acc_error": acc_e,
        "balanced": balanced,
        "mae": mae,
        "n": len(pairs),
    }


def error_f1(pred: Labels, truth: Labels, threshold: float = 0.5) -> dict[str, float]:
    """{precision, recall, f1, n_errors}: detecting erroneous steps (label < threshold)."""
    pairs = _pairs(pred, truth)
    tp = sum(a < threshold and b < threshold for a, b in pairs)
    fp = sum(a < threshold <= b for a, b in pairs)
    fn = sum(b < threshold <= a for a, b in pairs)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": prec, "recall": rec, "f1": f1, "n_errors": tp + fn}


def processbench(pred: Labels, truth: Labels, threshold: float = 0.5) -> dict[str, float | None]:
    """{acc_error, acc_correct, f1, n_error, n_correct}: first-error-step identification."""
    _pairs(pred, truth)  # shape checks
    hits = {"error": [], "correct": []}
    for p, t in zip(pred, truth):
        true_first = first_error(t, threshold)
        p_masked = [a if b is not None else None for a, b in zip(p, t)]
        hits["correct" if true_first < 0 else "error"].append(first_error(p_masked, threshold) == true_first)
    acc_e = sum(hits["error"]) / len(hits["error"]) if hits["error"] else None
    acc_c = sum(hits["correct"]) / len(hits["correct"]) if hits["correct"] else None
    if acc_e is None or acc_c is None:
        f1 = None  # one side has no traces: the harmonic mean is undefined
    else:
        f1 = 2 * acc_e * acc_c / (acc_e + acc_c) if acc_e + acc_c > 0 else 0.0
    return {
        "acc_error": acc_e,
        "acc_correct": acc_c,
        "f1": f1,
        "n_error": len(hits["error"]),
        "n_correct": len(hits["correct"]),
    }


def step_auroc(pred: Labels, truth: Labels, threshold: float = 0.5) -> float | None:
    """Threshold-free ranking quality: P(score of a valid step > score of an erroneous step),
    ties counting half (the Mann-Whitney U statistic / (n_valid * n_error)). None without both."""
    pairs = _pairs(pred, truth)
    valid = sorted(a for a, b in pairs if b >= threshold)
    errors = sorted(a for a, b in pairs if b < threshold)
    if not valid or not errors:
        return None
    wins, lo, hi = 0.0, 0, 0
    for v in valid:  # count errors scored below v (lo) and equal to v (hi - lo)
        while lo < len(errors) and errors[lo] < v:
            lo += 1
        hi = max(hi, lo)
        while hi < len(errors) and errors[hi] <= v:
            hi += 1
        wins += lo + 0.5 * (hi - lo)
    return wins / (len(valid) * len(errors))


def best_of_n_accuracy(scores: list[list[float]], correct: list[list[bool]]) -> float | None:
    """Share of problems whose highest-scoring sample (the first one on ties) is correct.
    scores, correct: one list per problem, one entry per sample. None without problems."""
    if len(scores) != len(correct):
        raise PonderError(f"{len(scores)} score groups but {len(correct)} correctness groups")
    hits = []
    for i, (s, c) in enumerate(zip(scores, correct)):
        if len(s) != len(c) or not s:
            raise PonderError(f"problem {i}: {len(s)} scores for {len(c)} samples (need one per sample, at least one)")
        hits.append(c[max(range(len(s)), key=lambda j: (s[j], -j))])
    return _rate(hits)


def pick_aggregation(
    step_scores: list[list[list[float]]], correct: list[list[bool]], aggregations: tuple[str, ...] | None = None
) -> tuple[str, dict[str, float | None]]:
    """(the best aggregation, best-of-n accuracy of each) on held-out groups: step_scores[p][j] is
    sample j of problem p's per-step scores. Ties go to the aggregation listed first."""
    from ponder.search.aggregate import AGGREGATIONS, aggregate

    aggs = aggregations or AGGREGATIONS
    acc = {a: best_of_n_accuracy([[aggregate(s, a) for s in g] for g in step_scores], correct) for a in aggs}
    return max(aggs, key=lambda a: (acc[a] or 0.0, -aggs.index(a))), acc
