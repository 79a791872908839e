"""The evaluation grid: its config (from a recipe and flags), its cells, and its problems.

A grid is tasks x models x strategies x budgets x seeds. A cell is one (task, model, strategy,
budget, seed). Pool strategies (majority, best_of_n, weighted, pass) are read off one shared pool
of samples per (task, model, seed); every other name is a search strategy run by
`ponder.search.run_search` once per budget. A task is anything ponder.tasks.load_task reads: a built-in generator ("countdown",
"arithmetic:4" for level 4), a data set ("gsm8k", "math500:3" for MATH level 3), a problems
.jsonl, or `hf:PATH_OR_ID`. `temperature`, `max_tokens` and `top_p` set the pool's sampling and
reach every search strategy that has the knob (top_p every sampled call); a strategy's own
`options` (e.g. {"beam": {"temperature": 0.6}}) win. `prompt` picks the prompt format
(ponder/prompts.py), by default per model and task.
Left out: per-task sampling settings (one temperature and token limit for the whole grid).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ponder.executor import ExecutorOptions
from ponder.types import PonderError, Problem

POOL_STRATEGIES = ("majority", "best_of_n", "weighted", "pass")
ALIASES = {
    "maj": "majority",
    "bon": "best_of_n",
    "best_of_k": "best_of_n",
    "weighted_vote": "weighted",
    "pass@k": "pass",
}
# Strategies whose result does not depend on the budget: run once, at budget 1.
BUDGET_FREE = ("greedy",)
# Options that decide what a finished cell means: a re-run into the same folder must match them.
IDENTITY_KEYS = ("n_problems", "temperature", "max_tokens", "scorer", "data", "problem_seed", "options")
POOL_TEMPERATURE, POOL_MAX_TOKENS = 0.8, 256  # the pool's sampling when not given (search's defaults too)


@dataclass
class EvalConfig(ExecutorOptions):
    """One evaluation grid (`ponder eval`): tasks x models x strategies x budgets x seeds.

    tasks: task names (`countdown`, `arithmetic:4` for level 4, gsm8k, math500, ...), problems .jsonl files, or hf:PATH_OR_ID
    models: model names, folders, or OpenAI-compatible URLs
    strategies: pool strategies (majority, best_of_n, weighted, pass) or any search strategy
    budgets: samples' worth of compute per problem
    seeds: sampling seeds; each adds a run of every cell
    n_problems: problems per task
    problem_seed: which problems are drawn; separate from the sampling seeds
    data: task -> local data file, for data-set tasks (--data gsm8k=path/test.jsonl)
    temperature: sampling temperature of the pool and of every search strategy with that knob (null: 0.8)
    max_tokens: token limit of every response, pooled or searched (null: 256)
    top_p: nucleus sampling for every sampled call (null: off)
    prompt: prompt format (r1, boxed, code, plain, tiny; null: tiny for built-in models, else by task, docs/tasks.md)
    split: data-set split for data-set tasks (null: each data set's default)
    pool_size: samples per problem in the pool (null: the largest budget)
    scorer: scorer for best_of_n / weighted and search (null: the model's confidence)
    options: strategy -> its run_search options (--options.beam.width=4)
    scorer_options: options of the named scorer, e.g. --scorer-options.path=runs/prm (a PRM folder)
    batch_size: sequences per generator call
    n_bins: difficulty bins for compute-optimal selection
    difficulty_samples: pool samples used to estimate difficulty (agreement rate)
    out: run folder (results.jsonl, summary.json, plots/, report.html)
    backend: hf | vllm for every local model (a "vllm:" model prefix does it per model)
    gen_options: backend options (gen/options.py), e.g. --gen-options.dtype=bfloat16
    model_params: served model -> parameter count ("7B") for FLOP counts (else unknown)
    """

    tasks: list[str] = field(default_factory=lambda: ["arithmetic"])
    models: list[str] = field(default_factory=lambda: ["tiny"])
    strategies: list[str] = field(default_factory=lambda: ["greedy", "majority", "best_of_n"])
    budgets: list[int] = field(default_factory=lambda: [1, 4, 16])
    seeds: list[int] = field(default_factory=lambda: [0])
    n_problems: int = 100
    problem_seed: int = 1234  # which problems; separate from the sampling seeds
    data: dict[str, str] = field(default_factory=dict)  # task -> local file for data-set tasks
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    prompt: str | None = None
    split: str | None = None
    pool_size: int | None = None  # default: the largest pool-strategy budget
    scorer: str | None = None  # None: the model's confidence (search's default "confidence")
    scorer_options: dict[str, Any] = field(default_factory=dict)  # to the scorer, e.g. {"path": "runs/prm"}
    options: dict[str, dict] = field(default_factory=dict)  # strategy -> its run_search options
    batch_size: int = 256  # sequences per generator call
    n_bins: int = 3  # difficulty bins for compute-optimal selection
    difficulty_samples: int = 8  # pool samples used to estimate difficulty (agreement rate)
    out: str = "runs/eval"
    backend: str | None = None  # hf | vllm for every local model (a "vllm:" model prefix does it per model)
    gen_options: dict[str, Any] = field(default_factory=dict)  # backend options (gen/options.py)
    model_params: dict[str, str] = field(default_factory=dict)  # served model -> size ("7B"): FLOPs, else unknown


@dataclass(frozen=True)
class Cell:
    task: str
    model: str
    strategy: str
    budget: int
    seed: int

    @property
    def key(self) -> str:
        return f"{self.task}|{self.model}|{self.strategy}|{self.budget}|s{self.seed}"

    @property
    def pooled(self) -> bool:
        return self.strategy in POOL_STRATEGIES


def canonical_strategy(name: str) -> str:
    """One spelling per strategy, the registry's (snake_case): `best-of-n` -> `best_of_n`."""
    name = name.strip().lower().replace("-", "_")
    return ALIASES.get(name, name)


def validate(cfg: EvalConfig) -> EvalConfig:
    """Check the grid before any work starts; returns cfg with strategy names made canonical."""
    for key in ("tasks", "models", "strategies", "budgets", "seeds"):
        if not getattr(cfg, key):
            raise PonderError(f"eval needs at least one entry in {key!r} (e.g. --{key} ...)")
    if cfg.n_problems < 1:
        raise PonderError(f"--n-problems must be >= 1, got {cfg.n_problems}")
    if any(b < 1 for b in cfg.budgets):
        raise PonderError(f"budgets must be >= 1 samples' worth, got {cfg.budgets}")
    cfg.strategies = list(dict.fromkeys(canonical_strategy(s) for s in cfg.strategies))
    cfg.models = [with_backend(m, cfg.backend) for m in cfg.models]
    cfg.budgets = sorted(set(cfg.budgets))
    size = pool_size(cfg)
    too_big = [b for b in cfg.budgets if b > size] if any(s in POOL_STRATEGIES for s in cfg.strategies) else []
    if too_big:
        raise PonderError(
            f"budget {too_big[0]} is larger than the {size} samples in the pool (--pool-size); "
            f"raise --pool-size to {max(cfg.budgets)} or drop that budget"
        )
    if cfg.difficulty_samples < 1 or cfg.n_bins < 1:
        raise PonderError("--difficulty-samples and --n-bins must be >= 1")
    return cfg


def with_backend(model: str, backend: str | None) -> str:
    """'tiny' -> 'vllm:tiny' under backend vllm, so that cells (and their pools) name the backend."""
    from ponder.gen.options import split_backend

    if backend is None or model.startswith(("http://", "https://", "openai:")):
        return model
    backend, name = split_backend(model, backend)
    return f"{backend}:{name}" if backend != "hf" else name


def pool_size(cfg: EvalConfig) -> int:
    return cfg.pool_size if cfg.pool_size is not None else max(cfg.budgets)


def cells(cfg: EvalConfig) -> list[Cell]:
    out = []
    for model in cfg.models:
        for task in cfg.tasks:
            for seed in cfg.seeds:
                for strategy in cfg.strategies:
                    budgets = [1] if strategy in BUDGET_FREE else cfg.budgets
                    out += [Cell(task, model, strategy, b, seed) for b in budgets]
    return out


def identity(cfg: EvalConfig) -> dict[str, Any]:
    # newer keys only when set, so that runs recorded before they existed still resume
    extra = {k: getattr(cfg, k) for k in ("scorer_options", "top_p", "prompt", "split") if getattr(cfg, k)}
    pool = {"temperature": pool_temperature(cfg), "max_tokens": pool_max_tokens(cfg)}
    return {k: getattr(cfg, k) for k in IDENTITY_KEYS} | pool | extra


def pool_temperature(cfg: EvalConfig) -> float:
    return POOL_TEMPERATURE if cfg.temperature is None else cfg.temperature


def pool_max_tokens(cfg: EvalConfig) -> int:
    return POOL_MAX_TOKENS if cfg.max_tokens is None else cfg.max_tokens


def search_options(strategy: str, knobs: Any, cfg: EvalConfig) -> dict[str, Any]:
    """A search cell's run_search options: --max-tokens / --temperature where the strategy has
    that knob (`knobs`: its parameter names), --top-p always, its own --options.STRATEGY.* on top."""
    given = {"max_tokens": cfg.max_tokens, "temperature": cfg.temperature}
    out: dict[str, Any] = {k: v for k, v in given.items() if v is not None and k in knobs}
    if cfg.top_p is not None:
        out["top_p"] = cfg.top_p
    return out | dict(cfg.options.get(strategy) or {})


def split_task(spec: str) -> tuple[str, int | None]:
    """'arithmetic:4' -> ('arithmetic', 4); 'gsm8k' -> ('gsm8k', None); files and hf: sources whole."""
    if spec.startswith("hf:") or spec.endswith((".jsonl", ".jsonl.gz")):
        return spec, None
    name, _, level = spec.partition(":")
    if level and not level.isdigit():
        raise PonderError(f"task {spec!r}: the part after ':' is a difficulty level (an integer)")
    return name, int(level) if level else None


def load_problems(spec: str, cfg: EvalConfig) -> list[Problem]:
    """The problems of one task spec, by ponder.tasks.load_task (a `data` override reads that file)."""
    from ponder.tasks import load_task

    name, level = split_task(spec)
    if name in cfg.data:
        from ponder.tasks.loaders import load_dataset

        problems = load_dataset(name, path=cfg.data[name], limit=cfg.n_problems, split=cfg.split)
    else:
        problems = load_task(name, cfg.n_problems, level=level, seed=cfg.problem_seed, split=cfg.split)
    if not problems:
        where = cfg.data.get(name, "its default location")
        raise PonderError(f"task {spec!r} gave no problems (data file: {where}); check the file or --n-problems")
    ids = [p.id for p in problems]
    if len(set(ids)) != len(ids):
        raise PonderError(f"task {spec!r}: problem ids are not unique; the data file holds duplicates")
    return problems
