"""`ponder data`: rollouts -> verified <question, chain of thought, answer> training data.

    ponder data --task arithmetic --n 200 --k 8 --out data/arith
    ponder data --task countdown --strategy beam --budget 8 --scorer check --k 4 --out data/cd
    ponder train sft --data.path=data/arith/data.jsonl

K responses per problem (sampling, or any search strategy run K times), each verified; then the
filters in the declared order, counting what each removes; difficulty labels from pass rates.
Writes OUT/rollouts.jsonl (every verified rollout, appended as computed: a rerun skips the
problems already there), OUT/data.jsonl (the kept records), OUT/data_card.json and .md, and
OUT/hf/ (a Hugging Face `datasets` folder) with --hf when `datasets` is installed.
Left out: semantic near-duplicates (see ponder/data/filters.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ponder.executor import ExecutorOptions
from ponder.types import PonderError

DEFAULT_FILTERS = ["correct", "pass_rate", "length", "exact_dup", "near_dup", "format", "language", "steps"]


@dataclass
class DataConfig(ExecutorOptions):
    """What `ponder data` builds.

    task: problems: a task name (ponder tasks, gsm8k, math500, ...), a problems .jsonl, or hf:PATH_OR_ID
    n: number of problems
    level: difficulty level (null: the task's default)
    split: the data set's split, for a data-set task (null: its default)
    prompt: prompt format (r1, boxed, code, plain, tiny; null: tiny for built-in models, else by task)
    seed: seed for drawing problems and sampling
    problems: jsonl of problems (id, task, question, answer) instead of --task
    k: responses per problem
    strategy: sample, or a search strategy run k times (beam, mcts, best_of_n, ...)
    budget: the search strategy's budget per run
    scorer: scorer for a search strategy that needs one (check, prm, ...)
    options: the strategy's options, e.g. --options.width=4
    scorer_options: the scorer's options, e.g. --scorer-options.path=runs/prm
    temperature: sampling temperature (strategy sample)
    max_tokens: token limit per response (strategy sample)
    model: model name, folder, RUN/latest, or OpenAI-compatible URL
    backend: hf | vllm
    gen_options: backend options, e.g. --gen-options.dtype=bfloat16
    batch: problems per generator call / verification round
    filters: filters in order (ponder/data/filters.py)
    min_pass_rate: drop problems with a lower pass rate (too hard)
    max_pass_rate: drop problems with a higher pass rate (too easy)
    min_chars: drop shorter responses
    max_chars: drop longer responses
    near_dup: drop a response this Jaccard-similar (character 3-grams) to a kept one of its problem
    language: the language filter's target (en, zh, ja, ko, ru, el, ar, ...; by script)
    min_language: the language filter drops a response with a smaller share of words in that script
    prm: a trained PRM folder for the steps filter (null: the executable step checker)
    step_threshold: the steps filter drops a response with a step scored below this
    out: output folder
    hf: also save a Hugging Face datasets folder OUT/hf (needs `datasets`)
    quiet: no progress bar
    """

    task: str | None = None
    n: int = 20
    level: int | None = None
    split: str | None = None
    prompt: str | None = None
    seed: int = 0
    problems: str | None = None
    k: int = 4
    strategy: str = "sample"
    budget: int = 1
    scorer: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    scorer_options: dict[str, Any] = field(default_factory=dict)
    temperature: float = 1.0
    max_tokens: int = 256
    model: str = "tiny"
    backend: str | None = None
    gen_options: dict[str, Any] = field(default_factory=dict)
    batch: int = 8
    filters: list[str] = field(default_factory=lambda: list(DEFAULT_FILTERS))
    min_pass_rate: float = 0.0
    max_pass_rate: float = 1.0
    min_chars: int = 1
    max_chars: int = 4000
    near_dup: float = 0.9
    language: str = "en"
    min_language: float = 0.9
    prm: str | None = None
    step_threshold: float = 0.5
    out: str = "data_out"
    hf: bool = False
    quiet: bool = False


def _problems(cfg: DataConfig) -> list:
    if bool(cfg.task) == bool(cfg.problems):
        raise PonderError("give --task NAME (with --n) or --problems FILE.jsonl, one of them")
    if cfg.problems:
        from ponder.train.data import DataConfig as ProblemFile
        from ponder.train.data import load_problems

        return load_problems(ProblemFile(path=cfg.problems))
    from ponder.tasks import load_task

    if cfg.n < 1:
        raise PonderError(f"--n must be >= 1, got {cfg.n}")
    return load_task(cfg.task, cfg.n, cfg.level, cfg.seed, cfg.split)


def _check(cfg: DataConfig) -> None:
    """Fail on bad settings before any model is loaded."""
    from ponder.data.filters import FILTERS

    if cfg.k < 1 or cfg.batch < 1:
        raise PonderError(f"--k and --batch must be >= 1, got {cfg.k} and {cfg.batch}")
    if not 0 <= cfg.min_pass_rate <= cfg.max_pass_rate <= 1:
        raise PonderError(
            f"need 0 <= --min-pass-rate <= --max-pass-rate <= 1, got {cfg.min_pass_rate}, {cfg.max_pass_rate}"
        )
    for name in cfg.filters:
        FILTERS.get(name)
    if "language" in cfg.filters:
        from ponder.verify.rewards import get_reward

        get_reward("language", target=cfg.language)  # an unknown target lists the known ones
    if cfg.strategy != "sample":
        from ponder.search.cli import check_plan

        check_plan(cfg.strategy, cfg.budget, cfg.scorer, dict(cfg.options))


def _same_source(out: Path, source: dict[str, Any]) -> None:
    """A rerun into a folder must sample the same way, or its rollouts would be mixed."""
    import json

    from ponder.io import write_json

    path = out / "source.json"
    if path.is_file():
        before = json.loads(path.read_text(encoding="utf-8"))
        diff = sorted(k for k in set(before) | set(source) if before.get(k) != source.get(k))
        if diff:
            raise PonderError(f"{out} holds rollouts made with other settings ({', '.join(diff)}); choose a new --out")
    else:
        out.mkdir(parents=True, exist_ok=True)
        write_json(path, source)


def main(argv: list[str]) -> int:
    from ponder.cliargs import parse_cli

    cfg, _ = parse_cli(DataConfig, argv, prog="ponder data [--key=value ...]", doc=__doc__)
    card = run_data(cfg)
    out = Path(cfg.out)
    print(f"{card['kept']} of {card['rollouts']} rollouts kept ({card['kept_problems']} of {card['problems']} "
          f"problems) -> {out / 'data.jsonl'}; what each filter removed: {out / 'data_card.md'}")  # fmt: skip
    return 0


def run_data(cfg: DataConfig) -> dict[str, Any]:
    """Check the settings, build (or resume) the data in cfg.out; returns the data card (the
    entry point `ponder pipeline` calls for a `data` stage)."""
    _check(cfg)
    problems = _problems(cfg)
    out = Path(cfg.out)
    source = {k: v for k, v in asdict(cfg).items() if k in _SOURCE_KEYS}
    _same_source(out, source)
    from ponder.data.build import build

    return build(cfg, problems, out, source)


_SOURCE_KEYS = ("task", "n", "level", "seed", "problems", "k", "strategy", "budget", "scorer", "options",
                "scorer_options", "temperature", "max_tokens", "model", "split", "prompt")  # fmt: skip
