"""Weighted, gated combinations of rewards.

    total = fail_value                        if any gate reward < threshold (the gate failed)
          = Σ_k w_k · r_k  (None terms skipped) otherwise; None if every term is None

Gating ("format must pass before correctness counts") is the safe default: an additive format
bonus pays well-formatted wrong answers and long wrong answers that happen to keep the tags.
Terms are computed only for responses that pass the gates, so an expensive verifier (code
execution) is not run on responses that cannot earn anything.

A spec is a dict {"terms": {"accuracy": 1.0} | [{"name", "weight", "kwargs"}], "gates": [...],
"threshold": 1.0, "fail_value": 0.0} or a one-line string "accuracy=1,repetition=0.5;gate=format"
(sections separated by ';': weighted terms, `gate=a+b`, `fail=-1`, `threshold=1`).
"""

from __future__ import annotations

from typing import Any

from ponder.types import PonderError
from ponder.verify.rewards import REWARDS, RewardFn, get_reward
from ponder.verify.rewards.contract import call_reward


def combine_values(
    term_values: list[list[float | None]], weights: list[float], gate_values: list[list[float | None]],
    threshold: float = 1.0, fail_value: float = 0.0,
) -> list[float | None]:  # fmt: skip
    """Pure combination. term_values: (K, B); gate_values: (G, B); returns (B,)."""
    n = len(term_values[0]) if term_values else len(gate_values[0]) if gate_values else 0
    out: list[float | None] = []
    for b in range(n):
        if any(g[b] is not None and g[b] < threshold for g in gate_values):
            out.append(fail_value)
            continue
        parts = [w * t[b] for t, w in zip(term_values, weights) if t[b] is not None]
        out.append(sum(parts) if parts else None)
    return out


def _subset(columns: dict[str, Any], keep: list[int], n: int) -> dict[str, Any]:
    """The columns of the kept completions; values that are not per-completion lists pass as they are."""
    return {k: [v[b] for b in keep] if isinstance(v, list) and len(v) == n else v for k, v in columns.items()}


def combine(
    terms: list[tuple[RewardFn, float]], gates: list[RewardFn] = (), threshold: float = 1.0, fail_value: float = 0.0
) -> RewardFn:
    """A reward that gates, then sums weighted terms; terms run only on completions that pass."""
    if not terms:
        raise PonderError("a combined reward needs at least one weighted term")

    def combined(prompts: list[Any], completions: list[Any], **columns: Any) -> list[float | None]:
        n = len(completions)
        gate_values = [call_reward(g, prompts, completions, **columns) for g in gates]
        keep = [b for b in range(n) if all(gv[b] is None or gv[b] >= threshold for gv in gate_values)]
        sub = _subset({"prompts": prompts, "completions": completions} | columns, keep, n)
        term_values = []
        for fn, _ in terms:
            vals: list[float | None] = [None] * n
            for b, v in zip(keep, call_reward(fn, **sub) if keep else []):
                vals[b] = v
            term_values.append(vals)
        if not n:
            return []
        return combine_values(term_values, [w for _, w in terms], gate_values, threshold, fail_value)

    return combined


def _parse_string_spec(spec: str) -> dict[str, Any]:
    out: dict[str, Any] = {"terms": {}, "gates": []}
    for section in filter(None, (s.strip() for s in spec.split(";"))):
        key, _, value = section.partition("=")
        if key.strip() == "gate":
            out["gates"] = [g.strip() for g in value.split("+") if g.strip()]
        elif key.strip() in ("fail", "threshold"):
            out["fail_value" if key.strip() == "fail" else "threshold"] = float(value)
        else:
            for item in section.split(","):
                name, _, weight = item.partition("=")
                out["terms"][name.strip()] = float(weight) if weight.strip() else 1.0
    return out


def combined_from_spec(spec: str | dict) -> RewardFn:
    """Build `combine(...)` from a spec (see the module docstring)."""
    try:
        d = _parse_string_spec(spec) if isinstance(spec, str) else dict(spec)
        raw_terms = d.get("terms", {})
        if isinstance(raw_terms, dict):
            raw_terms = [{"name": k, "weight": w} for k, w in raw_terms.items()]
        terms = [(get_reward(t["name"], **t.get("kwargs", {})), float(t.get("weight", 1.0))) for t in raw_terms]
        gates = [
            get_reward(g) if isinstance(g, str) else get_reward(g["name"], **g.get("kwargs", {}))
            for g in d.get("gates", [])
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise PonderError(f"bad reward spec {spec!r} ({e}); e.g. 'accuracy=1,repetition=0.5;gate=format'") from None
    return combine(terms, gates, threshold=float(d.get("threshold", 1.0)), fail_value=float(d.get("fail_value", 0.0)))


@REWARDS.register("gated_format_accuracy")
def gated_format_accuracy(think_in_prompt: bool = False, verifier: str | None = None):
    """1.0 only for a correct answer in the R1 format; 0.0 otherwise."""
    return combine(
        [(get_reward("accuracy", verifier=verifier), 1.0)],
        gates=[get_reward("format", think_in_prompt=think_in_prompt)],
    )


@REWARDS.register("accuracy_plus_format")
def accuracy_plus_format(format_weight: float = 0.1, think_in_prompt: bool = False, verifier: str | None = None):
    """TinyZero-style additive reward (0 / 0.1 / 1.1); kept for comparison, not the default."""
    return combine(
        [
            (get_reward("accuracy", verifier=verifier), 1.0),
            (get_reward("format", think_in_prompt=think_in_prompt), format_weight),
        ]
    )
