"""`ponder train METHOD RECIPE.yaml --key=value ...`

Methods: base (the tiny reasoner from scratch; train/base.py), sft (also
distillation), rft, star, grpo, dpo, expert (expert iteration: search -> learn; data/expert.py),
and prm / orm (learned verifiers; ponder.rm.cli). The
recipe is a YAML file of the method's config; `--a.b=value` (or `--a.b value`) overrides any
key; `ponder train METHOD --help` lists them. Unknown keys and wrong types fail before the model
is loaded. Prints the summary (before/after accuracy) at the end.
`ponder train merge ADAPTERS OUT` merges a LoRA run's adapters into its base (train/lora.py).

Data parallel: the same command under torchrun, e.g.
`torchrun --nproc_per_node=2 -m ponder.cli train sft RECIPE.yaml --run.threads=1`.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys

from ponder.types import PonderError

ROUTES = {
    "base": "ponder.train.base:main",
    "prm": "ponder.rm.cli:train_prm_main",
    "orm": "ponder.rm.cli:train_orm_main",
    "merge": "ponder.train.lora:main",
}
METHODS = {  # name -> (module, config class, train function)
    "sft": ("ponder.train.sft", "SFTConfig", "train_sft"),
    "rft": ("ponder.train.rft", "RFTConfig", "train_rft"),
    "star": ("ponder.train.star", "STaRConfig", "train_star"),
    "grpo": ("ponder.train.grpo", "GRPOConfig", "train_grpo"),
    "dpo": ("ponder.train.dpo", "DPOConfig", "train_dpo"),
    "expert": ("ponder.data.expert", "ExpertConfig", "train_expert"),  # search -> verify -> filter -> SFT
}
ALIASES = {"prompt": "model.prompt"}  # `--prompt NAME`, as on solve and eval
USAGE = (
    "usage: ponder train {base|sft|rft|star|grpo|dpo|expert|prm|orm} [RECIPE.yaml] [--key=value ...]\n"
    "       ponder train merge ADAPTER_FOLDER OUT_FOLDER\n"
    "  e.g. ponder train grpo recipes/grpo_countdown_tiny.yaml --run.steps=50 --optim.lr=3e-5"
)


def load_method_config(method: str, argv: list[str]):
    """(config, train function) for a method from `[RECIPE.yaml] [--key=value ...]`; `--help`
    lists the method's config keys (ponder.cliargs) and raises HelpShown."""
    from ponder.cliargs import parse_cli

    if method not in METHODS:
        known = ", ".join([*METHODS, *ROUTES])
        raise PonderError(f"unknown training method {method!r}; known: {known}")
    module_name, cls_name, fn_name = METHODS[method]
    module = importlib.import_module(module_name)
    prog = f"ponder train {method} [RECIPE.yaml] [--key=value ...]"
    cfg, _ = parse_cli(vars(module)[cls_name], argv, prog=prog, doc=__doc__, recipe=True, aliases=ALIASES)
    _default_prompt(cfg)
    return cfg, vars(module)[fn_name]


def _default_prompt(cfg) -> None:
    """model.prompt's documented default for the model and the task trained on (ponder/prompts.py)."""
    from ponder.prompts import default_prompt, get_prompt

    if cfg.model.prompt is not None:
        get_prompt(cfg.model.prompt)  # an unknown name fails before the model loads
        return
    data, teacher = getattr(cfg, "data", None), getattr(cfg, "teacher", None)
    task = getattr(data, "task", None) or (getattr(teacher, "task", None) if getattr(teacher, "model", None) else None)
    cfg.model.prompt = default_prompt(cfg.model.name, task)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        print(__doc__)
        return 0
    method, rest = argv[0], argv[1:]
    if method in ROUTES:
        module_name, fn = ROUTES[method].split(":")
        return int(vars(importlib.import_module(module_name))[fn](rest) or 0)
    from ponder.train.distributed import shutdown

    cfg, train = load_method_config(method, rest)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        summary = train(cfg)
    finally:
        shutdown()
    if summary.get("world_size", 1) > 1 and os.environ.get("RANK", "0") != "0":
        return 0  # rank 0 reports
    brief = {k: summary[k] for k in ("steps", "before", "after", "warnings") if k in summary}
    print(json.dumps(brief, indent=2, default=str))
    print(f"checkpoints and metrics in {cfg.run.out}")
    return 0
