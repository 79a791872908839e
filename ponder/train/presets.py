"""GRPO's family as switches, and the named presets that pin them.

| switch | grpo | dr_grpo | dapo | gspo | cispo | rloo | reinforce_pp |
|---|---|---|---|---|---|---|---|
| advantage (advantages.ADVANTAGES) | group_mean | group_mean | group_mean | group_mean | group_mean | rloo | batch_mean |
| adv_scale (std of the centred values) | group | none | group | group | group | none | batch |
| policy_loss (policy_losses.py) | ppo | ppo | ppo | gspo | cispo | ppo | ppo |
| loss_agg (aggregation.py) | seq_mean_token_mean | seq_mean_token_sum_norm | token_mean | seq_mean_token_mean | token_mean | seq_mean_token_mean | token_mean |
| eps_low / eps_high | 0.2 / 0.2 | 0.2 / 0.2 | 0.2 / 0.28 | 3e-4 / 4e-4 | 1.0 / 4.0 | 0.2 / 0.2 | 0.2 / 0.2 |
| kl_coef (to a frozen reference) | 0.04 (k3, in the loss) | 0 | 0 | 0 | 0 | 0 | 0 |
| overlong / dynamic_sampling | none / no | none / no | soft / yes (3 refills) | none / no | none / no | none / no | none / no |

Sources: GRPO, Shao et al. 2024 (DeepSeekMath); Dr. GRPO, Liu et al. 2025 ("Understanding
R1-Zero-Like Training"); DAPO, Yu et al. 2025; GSPO, Zheng et al. 2025 (its clip range 3e-4 /
4e-4); CISPO, MiniMax 2025 (MiniMax-M1: a large eps_low, so no lower bound, and a tuned
eps_high; 4.0 here is this toolkit's choice); RLOO, Ahmadian et al. 2024; REINFORCE++, Hu 2025
(global advantage normalisation; the paper also folds a k2-style KL into the reward, here off
like the other presets: set kl_coef and kl_in_reward). `opd` is on-policy distillation: no
outcome signal (advantage zero), reverse KL to `teacher` on the student's samples. Every preset
has process_coef 0: process supervision (DeepSeekMath, train/process.py) is switched on with
`algo.process_coef` and a PRM folder (`prm:`); with `algo.advantage: zero` it is the paper's pure
process supervision.

`GRPOSwitches` is the one definition of the switches: a preset is one instance of it, and a
recipe's `algo:` mapping names the switches it changes, checked against that class (unknown
keys list the known, wrong types are errors, registry names are looked up) and applied on top
of the preset, so a preset's meaning never drifts with defaults.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from ponder.registry import Registry
from ponder.types import PonderError


@dataclass(frozen=True)
class GRPOSwitches:
    """One GRPO variant, every switch pinned (a recipe changes them under `algo:`).

    advantage: advantage estimator: group_mean | rloo | batch_mean | zero | path/to/file.py:fn
    adv_scale: group | batch | none: divide advantages by the std of the centred values
    policy_loss: ppo | gspo | cispo | path/to/file.py:fn
    loss_agg: token_mean | seq_mean_token_mean | seq_mean_token_sum_norm | prompt_mean | plug-in
    eps_low: lower clip range of the probability ratio
    eps_high: upper clip range of the probability ratio (DAPO's clip-higher)
    dual_clip: > 1: dual-clip PPO's cap on the loss of negative advantages; 0: off
    kl_coef: weight of the KL term to the reference (0: no reference loaded)
    kl_estimator: k1 | k2 | k3 | path/to/file.py:fn estimator of the KL
    kl_in_reward: subtract kl_coef * summed KL from the reward instead of adding it to the loss
    entropy_coef: weight of the entropy bonus
    distill_coef: weight of the reverse KL to the teacher (on-policy distillation)
    overlong: none | mask | soft: how over-long samples are treated
    overlong_cache: soft punishment window, as a fraction of max_tokens
    dynamic_sampling: drop groups with all-equal rewards and refill the batch
    max_refill: extra generation rounds allowed to refill a batch
    epochs: optimisation passes over each batch of rollouts
    process_coef: weight of PRM process advantages (DeepSeekMath process supervision) added per token; 0: off
    """

    advantage: str  # advantages.ADVANTAGES name or path/to/file.py:fn
    adv_scale: Literal["group", "batch", "none"]
    policy_loss: str  # policy_losses.POLICY_LOSSES name or plug-in
    loss_agg: str  # aggregation.LOSS_AGGREGATIONS name or plug-in
    eps_low: float
    eps_high: float
    dual_clip: float  # > 1: dual-clip PPO's cap for negative advantages; 0: off
    kl_coef: float
    kl_estimator: str  # losses.KL_ESTIMATORS: k1, k2, k3 or a plug-in
    kl_in_reward: bool  # False: KL term in the loss; True: reward - kl_coef * summed KL
    entropy_coef: float  # entropy bonus: loss - entropy_coef * entropy
    distill_coef: float  # reverse KL to the teacher (GRPOConfig.teacher), per token
    overlong: Literal["none", "mask", "soft"]
    overlong_cache: float  # soft punishment window, as a fraction of max_tokens
    dynamic_sampling: bool
    max_refill: int  # extra generation rounds allowed to refill a batch
    epochs: int  # optimisation passes over each batch of rollouts
    process_coef: float  # PRM process advantages per token (train/process.py; needs GRPOConfig.prm); 0: off


PRESETS = Registry("GRPO preset")

_GRPO = GRPOSwitches(
    advantage="group_mean",
    adv_scale="group",
    policy_loss="ppo",
    loss_agg="seq_mean_token_mean",
    eps_low=0.2,
    eps_high=0.2,
    dual_clip=0.0,
    kl_coef=0.04,
    kl_estimator="k3",
    kl_in_reward=False,
    entropy_coef=0.0,
    distill_coef=0.0,
    overlong="none",
    overlong_cache=0.2,
    dynamic_sampling=False,
    max_refill=3,
    epochs=1,
    process_coef=0.0,
)
_NO_KL = dataclasses.replace(_GRPO, kl_coef=0.0)
PRESETS.register("grpo")(_GRPO)
PRESETS.register("dr_grpo")(dataclasses.replace(_NO_KL, adv_scale="none", loss_agg="seq_mean_token_sum_norm"))
PRESETS.register("dapo")(
    dataclasses.replace(_NO_KL, loss_agg="token_mean", eps_high=0.28, overlong="soft", dynamic_sampling=True)
)
PRESETS.register("gspo")(dataclasses.replace(_NO_KL, policy_loss="gspo", eps_low=3e-4, eps_high=4e-4))
PRESETS.register("cispo")(
    dataclasses.replace(_NO_KL, policy_loss="cispo", loss_agg="token_mean", eps_low=1.0, eps_high=4.0)
)
PRESETS.register("rloo")(dataclasses.replace(_NO_KL, advantage="rloo", adv_scale="none"))
PRESETS.register("reinforce_pp")(
    dataclasses.replace(_NO_KL, advantage="batch_mean", adv_scale="batch", loss_agg="token_mean")
)
PRESETS.register("opd")(dataclasses.replace(_NO_KL, advantage="zero", adv_scale="none", distill_coef=1.0))

_NAMED = {  # switch -> (module holding the registry, registry attribute)
    "advantage": ("ponder.train.advantages", "ADVANTAGES"),
    "policy_loss": ("ponder.train.policy_losses", "POLICY_LOSSES"),
    "loss_agg": ("ponder.train.aggregation", "LOSS_AGGREGATIONS"),
    "kl_estimator": ("ponder.train.losses", "KL_ESTIMATORS"),
}


def resolve_switches(preset: str, changes: dict[str, Any] | None = None) -> GRPOSwitches:
    """The preset's switches with `changes` (a recipe's `algo:` mapping) applied, type-checked,
    each registry name looked up (an unknown one lists the known)."""
    import importlib

    from ponder.config import build_config

    base = dataclasses.asdict(PRESETS.get(preset))
    sw = build_config(GRPOSwitches, {**base, **(changes or {})}, prefix="algo.")
    for key, (module, attr) in _NAMED.items():
        getattr(importlib.import_module(module), attr).get(getattr(sw, key))
    if sw.epochs < 1 or sw.max_refill < 0:
        raise PonderError(f"algo.epochs must be >= 1 and algo.max_refill >= 0 (got {sw.epochs}, {sw.max_refill})")
    return sw
