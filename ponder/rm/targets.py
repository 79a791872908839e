"""What a reward model is trained toward at each step boundary: targets from a trace's step
labels (soft, or hard at 0.5), optionally blended with the trace's verified outcome, and
per-position loss weights that balance the two classes.

- PRM targets are the step labels; `outcome_weight` w in [0, 1] mixes in the outcome of the
  whole trace: target = (1 - w) * label + w * outcome at every labelled step (w = 1 trains every
  step toward the answer's correctness, an ORM read at every step; Cobbe et al. 2021's per-token
  verifier is this with every token labelled).
- ORM targets: the outcome at the last step only.
- Class balance: a position whose target is >= 0.5 counts as "valid", otherwise "error"; with
  `balance` each class's positions weigh n / (2 n_class) so both classes carry half the loss
  (a PRM on traces that are mostly wrong no longer wins by calling every step wrong).

Left out: per-trace weights (e.g. down-weighting long traces) and focal losses.
"""

from __future__ import annotations

from ponder.rm.labels import LabeledTrace
from ponder.types import PonderError


def blend_outcome(labels: list[float | None], outcome: float | None, weight: float) -> list[float | None]:
    """(1 - weight) * label + weight * outcome at labelled steps (S,) -> (S,); None stays None."""
    if not 0.0 <= weight <= 1.0:
        raise PonderError(f"outcome_weight must be in [0, 1], got {weight}")
    if weight == 0.0:
        return list(labels)
    if outcome is None:
        raise PonderError("outcome_weight > 0 needs traces with a verified outcome")
    return [None if v is None else (1.0 - weight) * v + weight * float(outcome) for v in labels]


def targets_of(trace: LabeledTrace, kind: str, hard: bool, outcome_weight: float = 0.0) -> list[float | None]:
    """Per-boundary targets (None = no loss there). ORM: the outcome at the last step only."""
    if kind == "orm":
        if trace.outcome is None:
            raise PonderError(f"trace {trace.id!r} has no verified outcome; an ORM trains on outcomes")
        return [None] * (len(trace.steps) - 1) + [float(trace.outcome)]
    try:
        labels = blend_outcome(trace.labels, trace.outcome, outcome_weight)
    except PonderError as e:
        raise PonderError(f"trace {trace.id!r}: {e}") from None
    return [None if v is None else (float(v >= 0.5) if hard else float(v)) for v in labels]


def class_weights(targets: list[list[float | None]]) -> tuple[float, float]:
    """(weight of a valid position, weight of an error position) so that each class carries half
    of the total weight: n / (2 n_valid), n / (2 n_error). A class with no positions weighs 1."""
    flat = [v for t in targets for v in t if v is not None]
    n_valid = sum(v >= 0.5 for v in flat)
    n_error = len(flat) - n_valid
    if not n_valid or not n_error:
        return 1.0, 1.0
    return len(flat) / (2 * n_valid), len(flat) / (2 * n_error)


def position_weights(targets: list[float | None], weights: tuple[float, float] = (1.0, 1.0)) -> list[float]:
    """Loss weight per position (S,): 0 where unlabelled, else its class's weight."""
    valid, error = weights
    return [0.0 if v is None else (valid if v >= 0.5 else error) for v in targets]
