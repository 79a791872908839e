"""GRPO's variants as switches, and the named presets that pin them.

| switch | grpo (DeepSeekMath) | dr_grpo (Liu et al. 2025) | dapo (Yu et al. 2025) |
|---|---|---|---|
| scale_std (divide advantages by group std) | yes | no | yes |
| loss_agg | seq_mean | constant | token_mean |
| eps_low / eps_high (clip) | 0.2 / 0.2 | 0.2 / 0.2 | 0.2 / 0.28 |
| kl_coef (k3 to a frozen reference) | 0.04 | 0 | 0 |
| overlong | none | none | soft (cache 20% of max_tokens) |
| dynamic_sampling | no | no | yes (refill at most 3 rounds) |

`GRPOSwitches` is the one definition of the switches: a preset is one instance of it, and a
recipe's `algo:` mapping names the switches it changes, checked against that class (unknown
keys list the known, wrong types are errors) and applied on top of the preset, so a preset's
meaning never drifts with defaults. Unknown preset names list the known.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from ponder.registry import Registry


@dataclass(frozen=True)
class GRPOSwitches:
    """One GRPO variant, every switch pinned (a recipe changes them under `algo:`).

    scale_std: divide advantages by the group's standard deviation
    loss_agg: seq_mean | token_mean | constant: how token losses are averaged
    eps_low: lower clip range of the probability ratio
    eps_high: upper clip range of the probability ratio (DAPO's clip-higher)
    kl_coef: weight of the KL term to the reference (0: no reference loaded)
    kl_estimator: k1 | k3 estimator of the KL
    overlong: none | mask | soft: how over-long samples are treated
    overlong_cache: soft punishment window, as a fraction of max_tokens
    dynamic_sampling: drop groups with all-equal rewards and refill the batch
    max_refill: extra generation rounds allowed to refill a batch
    epochs: optimisation passes over each batch of rollouts
    """

    scale_std: bool
    loss_agg: Literal["seq_mean", "token_mean", "constant"]
    eps_low: float
    eps_high: float
    kl_coef: float
    kl_estimator: Literal["k1", "k3"]
    overlong: Literal["none", "mask", "soft"]
    overlong_cache: float  # soft punishment window, as a fraction of max_tokens
    dynamic_sampling: bool
    max_refill: int  # extra generation rounds allowed to refill a batch
    epochs: int  # optimisation passes over each batch of rollouts


PRESETS = Registry("GRPO preset")

_GRPO = GRPOSwitches(
    scale_std=True,
    loss_agg="seq_mean",
    eps_low=0.2,
    eps_high=0.2,
    kl_coef=0.04,
    kl_estimator="k3",
    overlong="none",
    overlong_cache=0.2,
    dynamic_sampling=False,
    max_refill=3,
    epochs=1,
)
PRESETS.register("grpo")(_GRPO)
PRESETS.register("dr_grpo")(dataclasses.replace(_GRPO, scale_std=False, loss_agg="constant", kl_coef=0.0))
PRESETS.register("dapo")(
    dataclasses.replace(
        _GRPO, loss_agg="token_mean", eps_high=0.28, kl_coef=0.0, overlong="soft", dynamic_sampling=True
    )
)


def resolve_switches(preset: str, changes: dict[str, Any] | None = None) -> GRPOSwitches:
    """The preset's switches with `changes` (a recipe's `algo:` mapping) applied, type-checked."""
    from ponder.config import build_config

    base = dataclasses.asdict(PRESETS.get(preset))
    return build_config(GRPOSwitches, {**base, **(changes or {})}, prefix="algo.")
