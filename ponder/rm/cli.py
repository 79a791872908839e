"""`ponder label` (step labels for PRM training) and `ponder train prm|orm` (reward models).

    ponder label --task arithmetic --n 200 --samples 4 --k 8 --out runs/labels.jsonl
    ponder label --exact --task countdown --n 200 --out runs/exact.jsonl
    ponder label --import prm800k phase2_train.jsonl --out runs/prm800k.jsonl
    ponder train prm recipes/prm_tiny.yaml --data=runs/labels.jsonl --steps=300
    ponder train orm recipes/orm_tiny.yaml

`ponder label` samples `--samples` traces per problem from the policy, then labels every step by
Monte-Carlo rollouts (default; resumable, appends to --out), or by the task's step checker
(--exact), and stores the exact labels beside Monte-Carlo ones (meta.exact) when the task has a
step checker, so label quality can be measured. The training command saves the reward model as
a Hugging Face folder in `out`, with metrics.jsonl and summary.json beside it.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from ponder.executor import ExecutorOptions, make_executor
from ponder.types import PonderError, Problem, SamplingParams

log = logging.getLogger(__name__)


def _progress(total: int, desc: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn(desc), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=False)
    return bar, bar.add_task(desc, total=total)


def sample_traces(gen, problems: list[Problem], samples: int, temperature: float, max_tokens: int, seed: int):
    """`samples` responses per problem in one generator call; empty responses are dropped."""
    from ponder.rm.mc import Trace

    outs = gen.generate(
        [gen.render(p.question) for p in problems],
        SamplingParams(n=samples, temperature=temperature, max_tokens=max_tokens, seed=seed, logprobs=False),
    )
    return [Trace(f"{p.id}#{j}", p, c.text) for p, group in zip(problems, outs) for j, c in enumerate(group) if c.text]


@dataclass
class LabelConfig(ExecutorOptions):
    """What `ponder label` samples and labels, or which file it converts (--import FORMAT FILE).

    model: policy that writes and completes traces
    backend: hf | vllm for the model (a "vllm:" model prefix does the same)
    gen_options: backend options (gen/options.py), e.g. --gen-options.dtype=bfloat16
    task: problems: a task name (ponder tasks, gsm8k, math500, ...), a problems .jsonl, or hf:PATH_OR_ID
    n: problems
    level: difficulty level (null: the task's default)
    split: the data set's split, for a data-set task (null: its default)
    prompt: prompt format (r1, boxed, code, plain, tiny; null: tiny for built-in models, else by task)
    samples: traces sampled per problem
    k: Monte-Carlo completions per step prefix
    hard: hard labels (any completion correct) instead of soft
    exact: label with the task's step checker, no rollouts
    temperature: sampling temperature of traces and completions
    max_tokens: token limit of each trace or completion
    traces_per_call: traces whose prefixes share one generator call
    seed: seed for problems and sampling
    import_format: convert a file of this format (prm800k | math-shepherd) instead of labelling
    out: output jsonl (step-label format, docs/rm.md)
    """

    model: str = "tiny"
    backend: str | None = None
    gen_options: dict[str, Any] = field(default_factory=dict)
    task: str = "arithmetic"
    n: int = 50
    level: int | None = None
    split: str | None = None
    prompt: str | None = None
    samples: int = 4
    k: int = 8
    hard: bool = False
    exact: bool = False
    temperature: float = 0.8
    max_tokens: int = 256
    traces_per_call: int = 16
    seed: int = 0
    import_format: Literal["prm800k", "math-shepherd"] | None = None
    out: str = ""


def parse_label(argv: list[str]) -> tuple[LabelConfig, str | None]:
    """(config, the file to import or None); `--import FORMAT` is short for --import-format."""
    from ponder.cliargs import parse_cli

    cfg, rest = parse_cli(LabelConfig, argv, prog="ponder label [--key=value ...] | ponder label --import FORMAT FILE",
                          doc=__doc__ or "", aliases={"import": "import_format"}, max_positionals=1)  # fmt: skip
    if not cfg.out:
        raise PonderError("ponder label needs --out FILE.jsonl")
    return cfg, (rest[0] if rest else None)


def _import(fmt: str, path: str | None, out: str) -> int:
    from ponder.io import write_jsonl
    from ponder.rm.labels import import_math_shepherd, import_prm800k

    if not path:
        raise PonderError(f"--import {fmt} needs the file to convert: ponder label --import {fmt} FILE --out OUT")
    recs = import_prm800k(path) if fmt == "prm800k" else import_math_shepherd(path)
    write_jsonl(out, (r.to_dict() for r in recs))
    print(f"imported {len(recs)} traces ({sum(len(r.steps) for r in recs)} steps) into {out}")
    return 0


def label_problems(args: LabelConfig) -> list[Problem]:
    """--task's problems (any source load_task reads); --exact needs a task with a step checker."""
    from ponder.tasks import load_task, require_step_checker

    problems = load_task(args.task, args.n, args.level, args.seed, args.split)
    if not problems:
        raise PonderError(f"--task {args.task} gave no problems")
    if args.exact:
        require_step_checker((p.task for p in problems), "--exact", "label by Monte-Carlo rollouts (drop --exact)")
    return problems


def with_exact(recs: list, task) -> list:
    """Attach exact labels (meta.exact) to Monte-Carlo labelled traces of a built-in task."""
    from ponder.rm.exact import exact_labels

    if task is None:  # no step checker (GSM8K, MATH, code): Monte-Carlo labels only
        return recs
    for r in recs:
        r.meta["exact"] = exact_labels(r.problem, r.steps, r.outcome, task=task)
    return recs


def _policy(args: LabelConfig, task: str):
    """The policy in its prompt format, as a Ray worker builds it for itself."""
    from ponder.gen import load_generator
    from ponder.prompts import prompted

    return prompted(load_generator(args.model, backend=args.backend, **args.gen_options), args.model, task, args.prompt)


def main(argv: list[str]) -> int:
    args, file = parse_label(argv)
    if args.import_format:
        return _import(args.import_format, file, args.out)
    from ponder.gen import load_generator
    from ponder.io import write_jsonl
    from ponder.prompts import prompted
    from ponder.rm.mc import MCParams, label_traces
    from ponder.tasks import get_task, step_checker_task
    from ponder.verify import verify

    problems = label_problems(args)
    checker = step_checker_task(problems[0].task)
    task = get_task(checker) if checker else None  # exact labels only where a step checker exists
    gen = load_generator(args.model, backend=args.backend, **args.gen_options)
    gen = prompted(gen, args.model, problems[0].task, args.prompt)
    traces = sample_traces(gen, problems, args.samples, args.temperature, args.max_tokens, args.seed)
    if args.exact:
        recs = exact_records(traces, task, verify)
    else:
        params = MCParams(
            k=args.k,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            hard=args.hard,
            seed=args.seed,
            traces_per_call=args.traces_per_call,
        )
        bar, tid = _progress(len(traces), "labelling")
        with bar, make_executor(args) as ex:
            policy = gen if ex.name == "local" else partial(_policy, args, problems[0].task)
            recs = label_traces(
                policy,
                traces,
                params,
                out=args.out,
                verifier=verify,
                progress=lambda n: bar.advance(tid, n),
                executor=ex,
            )
        recs = with_exact(recs, task)
    for r in recs:  # what the policy saw, in its prompt format
        r.meta.update(prompt_format=gen.format.name, prompt=gen.render(r.problem.question))
    write_jsonl(args.out, (r.to_dict() for r in recs))
    solved = sum(r.outcome == 1.0 for r in recs)
    print(f"{len(recs)} traces, {sum(len(r.steps) for r in recs)} steps, {solved} correct -> {args.out}")
    return 0


def exact_records(traces, task, verifier) -> list:
    from ponder.rm.exact import exact_labels
    from ponder.rm.labels import LabeledTrace
    from ponder.steps import split_steps

    scores = verifier([t.problem for t in traces], [t.response for t in traces])
    out = []
    for t, s in zip(traces, scores):
        steps = split_steps(t.response)
        out.append(
            LabeledTrace(t.id, t.problem, steps, exact_labels(t.problem, steps, s.value, task=task), "exact", s.value)
        )
    return out


def _build_model(cfg):
    from ponder.rm.model import CONFIG_NAME, from_backbone, load_reward_model

    if (Path(cfg.backbone) / CONFIG_NAME).is_file() or (Path(cfg.backbone) / "latest").is_file():
        return load_reward_model(cfg.backbone, kind=cfg.kind)
    return from_backbone(cfg.backbone, kind=cfg.kind)


def heldout_metrics(rm, traces: list) -> dict:
    """Step-level and first-error metrics of the trained model against the held-out labels."""
    from ponder.rm.quality import error_f1, processbench
    from ponder.rm.scorers import ORMScorer, PRMScorer

    if not traces:
        return {}
    if rm.kind == "orm":
        scores = ORMScorer(rm).score([t.problem for t in traces], ["".join(t.steps) for t in traces])
        acc = sum((s >= 0.5) == (t.outcome >= 1.0) for s, t in zip(scores, traces)) / len(traces)
        return {"outcome_accuracy": acc, "n": len(traces)}
    pred = PRMScorer(rm).score_steps([t.problem for t in traces], [t.steps for t in traces])
    truth = [t.labels for t in traces]
    return {"error_f1": error_f1(pred, truth), "processbench": processbench(pred, truth), "n": len(traces)}


def train_main(argv: list[str]) -> int:
    """`ponder train prm|orm [RECIPE.yaml] [--key=value ...]`; the kind comes from the recipe
    (`kind: orm`) or --kind; train_prm_main / train_orm_main fix it."""
    from ponder.cliargs import parse_cli
    from ponder.config import to_dict
    from ponder.io import write_json
    from ponder.rm.labels import read_labels
    from ponder.rm.train import RMTrainConfig, split_train_val, train_reward_model

    prog = "ponder train prm|orm [RECIPE.yaml] [--key=value ...]"
    cfg, _ = parse_cli(RMTrainConfig, argv, prog=prog, doc=train_main.__doc__ or "", recipe=True)
    if not cfg.data:
        raise PonderError("no training data: set --data=PATH to a step-label jsonl (write one with `ponder label`)")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    traces, rm = read_labels(cfg.data), _build_model(cfg)
    tlog = train_reward_model(rm, traces, cfg)
    _, val = split_train_val(traces, cfg.val_frac, cfg.run.seed)
    summary = {
        "config": to_dict(cfg),
        "steps": len(tlog.losses),
        "seconds": tlog.seconds,
        "first_loss": tlog.losses[0],
        "last_loss": sum(tlog.losses[-10:]) / len(tlog.losses[-10:]),
        "val": tlog.val,
        "heldout": heldout_metrics(rm, val),
    }
    write_json(Path(cfg.run.out) / "summary.json", summary)
    print(json.dumps({k: summary[k] for k in ("first_loss", "last_loss", "heldout")}, indent=2))
    print(f"{cfg.kind.upper()} saved to {cfg.run.out} (its latest checkpoint; --prm/--orm {cfg.run.out} loads it)")
    return 0


def train_prm_main(argv: list[str]) -> int:
    return train_main(["--kind=prm", *argv])


def train_orm_main(argv: list[str]) -> int:
    return train_main(["--kind=orm", *argv])
