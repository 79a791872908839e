"""`ponder verify --verifier NAME --input F.jsonl --output G.jsonl`: score a file of responses.

Every record carries `response`. Math records carry `answer`; code records carry `test` +
`entry_point` (+ `prompt`) or `test_list` (+ `test_setup_code`); task records carry `question`,
`answer`, `meta` — or any record may carry a whole `problem` object. `--verifier auto` picks the
verifier from each record's `task`. Records of `ponder tasks --trace` / `ponder solve --json
F.jsonl` (ponder/records.py) are read as they are. `--task SOURCE` (a task name, a problems
.jsonl or hf:PATH, as every command takes; with --split/--n/--level/--seed) supplies the problems
instead: each record's `problem_id` picks its problem, reference included. The output is the input plus `correct`, `score`, `reason` and, for
code, `status` / otherwise `parsed` (the extracted answer, or null).

Bad input lines (invalid UTF-8 or JSON, a missing reference field) are named by file:line: the
run stops before scoring anything (`--on-error stop`, the default) or skips and counts them
(`--on-error skip`). Scores are appended to the output batch by batch as they are computed, so
after Ctrl-C (or a kill) the same command resumes where the output ends. A summary (counts by
status, throughput) is printed at the end. `--executor ray` scores the batches as Ray tasks (each
worker builds the verifier, with its own process pool, once); batches are still written in order.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

from ponder.executor import EXECUTORS, ExecutorOptions, cached, make_executor
from ponder.types import PonderError, Problem, Score
from ponder.verify.cli_input import BadLine, read_records, record_problem


def status_of(score: Score, is_code: bool) -> str:
    if is_code:
        return score.extracted or "error"
    if score.correct:
        return "correct"
    if not score.parsed:
        return "no_answer"
    for s in ("timeout", "error"):
        if score.reason.startswith(f"math-verify {s}"):
            return s
    return "wrong"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds > 0, got {text}")
    return value


def _verifier_kwargs(verifier: str, workers: int | None, timeout: float | None) -> dict:
    """CLI options as the chosen verifier's keyword arguments (math and code take them)."""
    kwargs: dict = {}
    if workers is not None and verifier in ("math", "code"):
        kwargs["workers"] = workers
    if timeout is not None and verifier == "math":
        kwargs["timeout"] = timeout
    if timeout is not None and verifier == "code":
        from ponder.verify.sandbox import Limits

        kwargs["limits"] = Limits(wall_seconds=timeout, cpu_seconds=max(1, math.ceil(timeout)))
    return kwargs


class _HelpFormat(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The docstring as written, and every option's default (as the cliargs commands show them)."""


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ponder verify", description=__doc__, formatter_class=_HelpFormat)
    ap.add_argument(
        "--verifier", default="auto", help="math | code | game24 | arithmetic | ... | auto (per record task)"
    )
    ap.add_argument("--input", required=True, help="jsonl(.gz) of records with a `response`")
    ap.add_argument("--output", required=True, help="jsonl to write (the records plus scores); resumed if present")
    ap.add_argument("--batch", type=_positive_int, default=256, help="records per verifier call (and per write)")
    ap.add_argument("--workers", type=_positive_int, default=None, help="parallel worker processes (null: 2)")
    ap.add_argument("--timeout", type=_positive_seconds, default=None, help="seconds per item (math) or program (code)")
    ap.add_argument("--on-error", choices=("stop", "skip"), default="stop", help="on a bad input line")
    ap.add_argument("--task", default=None, help="problems by problem_id: a task name, a problems .jsonl, or hf:PATH")
    ap.add_argument("--split", default=None, help="the --task data set's split (null: its default)")
    ap.add_argument("--n", type=int, default=None, help="the --task source's problem count (null: all; generators: 1)")
    ap.add_argument("--level", type=int, default=None, help="the --task source's difficulty level")
    ap.add_argument("--seed", type=int, default=0, help="the --task generator's seed")
    ap.add_argument("--executor", choices=EXECUTORS, default="local", help="local (this process) | ray (Ray tasks)")
    ap.add_argument("--ray-address", default=None, help="Ray cluster to join (null: RAY_ADDRESS, else a local Ray)")
    ap.add_argument("--ray-cpus", type=_positive_int, default=None, help="CPU slots of a Ray started here (null: all)")
    return ap


def _verifier_name(name: str) -> str:
    """--verifier: a verifier's name, or any task name (gsm8k -> math, math500 -> math, mbpp -> code)."""
    from ponder.tasks import ALIASES, task_names
    from ponder.verify import VERIFIERS, verifier_name_for

    if name == "auto" or name in VERIFIERS:
        return name
    if name in task_names():
        return verifier_name_for(ALIASES.get(name, name))
    VERIFIERS.get(name)  # unknown names fail here with the known ones
    return name


def _source_problems(args: argparse.Namespace) -> dict[str, Problem] | None:
    if args.task is None:
        return None
    from ponder.tasks import load_task

    return {p.id: p for p in load_task(args.task, args.n, args.level, args.seed, args.split)}


def _usable(
    path: str, verifier: str, on_error: str, source: dict[str, Problem] | None = None
) -> tuple[list[tuple[dict, Problem]], list[str]]:
    """(record, problem) for every usable line, and the file:line reasons of the skipped ones;
    with `source` a record's problem is source[its problem_id]."""
    usable, bad = [], []
    for line, rec in read_records(path):
        if source is not None and not isinstance(rec, BadLine):
            problem = _from_source(rec, source)
        else:
            problem = rec if isinstance(rec, BadLine) else record_problem(rec, line, verifier)
        if isinstance(problem, Problem):
            usable.append((rec, problem))
            continue
        reason = f"{path}:{line}: {problem.message if isinstance(problem, BadLine) else problem}"
        if on_error == "stop":
            raise PonderError(f"{reason} (nothing scored; --on-error skip skips such lines)")
        bad.append(reason)
    return usable, bad


def _from_source(rec: dict, source: dict[str, Problem]) -> Problem | str:
    pid = rec.get("problem_id", rec.get("id"))
    if not isinstance(rec.get("response"), str):
        return "no string `response` field"
    if pid not in source:
        return f"problem_id {pid!r} is not among the {len(source)} problems of --task"
    return source[pid]


def _done_so_far(output: Path, records: list[dict]) -> int:
    """How many records a previous run already wrote to `output` (a torn last line is cut off);
    an output that does not start with these records' responses is an error."""
    if output.is_dir():
        raise PonderError(f"--output {output} is a folder; give a file path")
    if not output.exists():
        return 0
    data = output.read_bytes()
    keep = data[: data.rfind(b"\n") + 1]
    if len(keep) != len(data):
        with open(output, "r+b") as f:
            f.truncate(len(keep))
    done = [json.loads(line) for line in keep.decode("utf-8").splitlines() if line.strip()]
    if len(done) > len(records) or any(d.get("response") != r["response"] for d, r in zip(done, records)):
        raise PonderError(f"{output} holds results for another input; remove it or choose another --output")
    return len(done)


def _append(output: Path, rows: list[dict]) -> None:
    with open(output, "a", encoding="utf-8") as f:
        f.writelines(json.dumps(r, default=str) + "\n" for r in rows)
        f.flush()
        os.fsync(f.fileno())


def _scored(rec: dict, score: Score, is_code: bool) -> tuple[dict, str]:
    status = status_of(score, is_code)
    row = {**rec, "correct": score.correct, "score": float(score.correct), "reason": score.reason}
    row.update({"status": status} if is_code else {"parsed": score.extracted})
    return row, status


def _score_batch(chunk: list[tuple[dict, Problem]], cache: dict, verifier: str, kwargs: dict) -> list[tuple[dict, str]]:
    """One batch's output rows and statuses, where the executor runs it."""
    from ponder.verify import check_one_score_each, get_verifier, verifier_name_for, verify

    fn = (
        verify
        if verifier == "auto"
        else cached(cache, ("verifier", verifier), lambda: get_verifier(verifier, **kwargs))
    )
    scores = fn([p for _, p in chunk], [r["response"] for r, _ in chunk])
    check_one_score_each(verifier, scores, len(chunk))
    return [
        _scored(rec, s, (verifier_name_for(p.task) if verifier == "auto" else verifier) == "code")
        for (rec, p), s in zip(chunk, scores)
    ]


def _score_into(
    output: Path, todo: list[tuple[dict, Problem]], verifier: str, batch: int, kwargs: dict, ex: Any
) -> Counter:
    from rich.progress import Progress

    counts: Counter[str] = Counter()
    chunks = [todo[start : start + batch] for start in range(0, len(todo), batch)]
    with Progress(transient=False) as progress:
        bar = progress.add_task(f"verifying ({verifier})", total=len(todo))

        def write(_: int, scored: list[tuple[dict, str]]) -> None:
            _append(output, [row for row, _ in scored])
            counts.update(status for _, status in scored)
            progress.update(bar, advance=len(scored))

        ex.map(partial(_score_batch, verifier=verifier, kwargs=kwargs), chunks, on_result=write, ordered=True)
    return counts


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt  # a kill runs the same clean-up as Ctrl-C (sandbox folders removed)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    args.verifier = _verifier_name(args.verifier)
    kwargs = _verifier_kwargs(args.verifier, args.workers, args.timeout)
    usable, bad = _usable(args.input, args.verifier, args.on_error, _source_problems(args))
    for reason in bad[:20]:
        print(f"skipped {reason}", file=sys.stderr)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    done = _done_so_far(output, [r for r, _ in usable])
    if done:
        print(f"resuming: {done} of {len(usable)} records already in {output}")
    start = time.perf_counter()
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        with make_executor(ExecutorOptions(args.executor, args.ray_address, args.ray_cpus)) as ex:
            counts = _score_into(output, usable[done:], args.verifier, args.batch, kwargs, ex)
    except KeyboardInterrupt:
        print(f"interrupted; {output} keeps every finished batch: run the same command to resume", file=sys.stderr)
        return 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    seconds = time.perf_counter() - start
    n = sum(counts.values())
    summary = ", ".join(f"{k} {v}" for k, v in counts.most_common())
    skipped = f"; skipped {len(bad)} bad lines" if bad else ""
    print(f"{n} records in {seconds:.2f}s ({n / max(seconds, 1e-9):.1f}/s): {summary}{skipped}")
    print(f"wrote {output}")
    return 0
