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

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

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


def _label_parser() -> argparse.ArgumentParser:
    from ponder.gen.options import add_backend_args

    ap = argparse.ArgumentParser(
        prog="ponder label", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="tiny", help="policy that writes and completes traces")
    add_backend_args(ap)
    ap.add_argument("--task", default="arithmetic")
    ap.add_argument("--n", type=int, default=50, help="problems")
    ap.add_argument("--level", type=int, default=None)
    ap.add_argument("--samples", type=int, default=4, help="traces sampled per problem")
    ap.add_argument("--k", type=int, default=8, help="Monte-Carlo completions per step prefix")
    ap.add_argument("--hard", action="store_true", help="hard labels (any completion correct) instead of soft")
    ap.add_argument("--exact", action="store_true", help="label with the task's step checker, no rollouts")
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--traces-per-call", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--import", dest="import_fmt", choices=["prm800k", "math-shepherd"], help="convert a file instead")
    ap.add_argument("file", nargs="?", help="the file to import (with --import)")
    ap.add_argument("--out", required=True, help="output jsonl (step-label format, docs/rm.md)")
    return ap


def _import(fmt: str, path: str | None, out: str) -> int:
    from ponder.io import write_jsonl
    from ponder.rm.labels import import_math_shepherd, import_prm800k

    if not path:
        raise PonderError(f"--import {fmt} needs the file to convert: ponder label --import {fmt} FILE --out OUT")
    recs = import_prm800k(path) if fmt == "prm800k" else import_math_shepherd(path)
    write_jsonl(out, (r.to_dict() for r in recs))
    print(f"imported {len(recs)} traces ({sum(len(r.steps) for r in recs)} steps) into {out}")
    return 0


def with_exact(recs: list, task) -> list:
    """Attach exact labels (meta.exact) to Monte-Carlo labelled traces of a built-in task."""
    from ponder.rm.exact import exact_labels

    for r in recs:
        r.meta["exact"] = exact_labels(r.problem, r.steps, r.outcome, task=task)
    return recs


def main(argv: list[str]) -> int:
    args = _label_parser().parse_args(argv)
    if args.import_fmt:
        return _import(args.import_fmt, args.file, args.out)
    from ponder.gen import load_generator
    from ponder.gen.options import backend_kwargs
    from ponder.io import write_jsonl
    from ponder.rm.mc import MCParams, label_traces
    from ponder.tasks import get_task, make_problems
    from ponder.verify import verify

    task, gen = get_task(args.task), load_generator(args.model, **backend_kwargs(args))
    traces = sample_traces(
        gen,
        make_problems(args.task, args.n, args.level, args.seed),
        args.samples,
        args.temperature,
        args.max_tokens,
        args.seed,
    )
    if args.exact:
        recs = exact_records(traces, task, verify)
        write_jsonl(args.out, (r.to_dict() for r in recs))
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
        with bar:
            recs = label_traces(
                gen, traces, params, out=args.out, verifier=verify, progress=lambda n: bar.advance(tid, n)
            )
        write_jsonl(args.out, (r.to_dict() for r in with_exact(recs, task)))
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
    from ponder.config import load_config, to_dict
    from ponder.io import write_json
    from ponder.rm.labels import read_labels
    from ponder.rm.train import RMTrainConfig, split_train_val, train_reward_model

    if any(a in ("-h", "--help") for a in argv):
        print(train_main.__doc__)
        print("config keys:", ", ".join(f.name for f in dataclasses.fields(RMTrainConfig)))
        return 0
    paths = [a for a in argv if not a.startswith("--") and "=" not in a]
    cfg = load_config(RMTrainConfig, paths[0] if paths else None, [a for a in argv if a not in paths])
    if not cfg.data:
        raise PonderError("no training data: set data=PATH to a step-label jsonl (write one with `ponder label`)")
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
