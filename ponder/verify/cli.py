"""`ponder verify --verifier NAME --input F.jsonl --output G.jsonl`: score a file of responses.

Every record carries `response`. Math records carry `answer`; code records carry `test` +
`entry_point` (+ `prompt`) or `test_list` (+ `test_setup_code`); task records carry `question`,
`answer`, `meta` — or any record may carry a whole `problem` object. `--verifier auto` picks the
verifier from each record's `task`. The output is the input plus `correct`, `reason` and, for
code, `status` / otherwise `parsed` (the extracted answer, or null). A summary (counts by status,
throughput) is printed at the end.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from ponder.io import read_jsonl, write_jsonl
from ponder.types import PonderError, Problem, Score

CODE_KEYS = ("test", "entry_point", "prompt", "test_list", "test_setup_code", "challenge_test_list")


def record_problem(rec: dict, i: int, verifier: str) -> Problem:
    if isinstance(rec.get("problem"), dict):
        return Problem.from_dict({"id": str(i), "question": "", **rec["problem"]})
    task = rec.get("task") or ("math" if verifier == "auto" else verifier)
    info = {**rec.get("info", {}), **{k: rec[k] for k in CODE_KEYS if k in rec}}
    answer = rec.get("answer")
    return Problem(
        id=str(rec.get("id", i)), task=task, question=str(rec.get("question", "")),
        answer=None if answer is None else str(answer), meta=rec.get("meta", {}), info=info,
    )  # fmt: skip


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


def _verifier_kwargs(verifier: str, workers: int | None, timeout: float | None) -> dict:
    """CLI options as the chosen verifier's keyword arguments (math and code take them)."""
    kwargs: dict = {}
    if workers is not None and verifier in ("math", "code"):
        kwargs["workers"] = workers
    if timeout is not None and verifier == "math":
        kwargs["timeout"] = timeout
    if timeout is not None and verifier == "code":
        from ponder.verify.sandbox import Limits

        kwargs["limits"] = Limits(wall_seconds=timeout, cpu_seconds=max(1, int(timeout)))
    return kwargs


def _score_all(problems: list[Problem], responses: list[str], verifier: str, batch: int, kwargs: dict) -> list[Score]:
    from rich.progress import Progress

    from ponder.verify import get_verifier, verify

    fn = verify if verifier == "auto" else get_verifier(verifier, **kwargs)
    scores: list[Score] = []
    with Progress(transient=False) as progress:
        bar = progress.add_task(f"verifying ({verifier})", total=len(problems))
        for start in range(0, len(problems), batch):
            scores += fn(problems[start : start + batch], responses[start : start + batch])
            progress.update(bar, completed=len(scores))
    return scores


@dataclass
class VerifyConfig:
    """What `ponder verify` scores and where it writes.

    verifier: math | code | game24 | arithmetic | ... | auto (per record's task)
    input: jsonl of records with a `response`
    output: jsonl to write (the records plus scores)
    batch: records per verifier call
    workers: parallel worker processes (null: the verifier's default, 2)
    timeout: seconds per item (math) or per program (code); null: the verifier's default
    """

    verifier: str = "auto"
    input: str = ""
    output: str = ""
    batch: int = 256
    workers: int | None = None
    timeout: float | None = None


def main(argv: list[str]) -> int:
    from ponder.cliargs import parse_cli

    args, _ = parse_cli(VerifyConfig, argv, prog="ponder verify --input F.jsonl --output G.jsonl [--key=value ...]",
                        doc=__doc__ or "")  # fmt: skip
    if not args.input or not args.output:
        raise PonderError("ponder verify needs --input F.jsonl and --output G.jsonl")
    records = read_jsonl(args.input)
    from ponder.verify import VERIFIERS, verifier_name_for

    if args.verifier != "auto":
        VERIFIERS.get(args.verifier)  # unknown names fail here with the known ones
    for i, rec in enumerate(records, 1):
        if not isinstance(rec.get("response"), str):
            raise PonderError(f"{args.input}: record {i} has no string `response` field")
    problems = [record_problem(r, i, args.verifier) for i, r in enumerate(records)]
    start = time.perf_counter()
    kwargs = _verifier_kwargs(args.verifier, args.workers, args.timeout)
    scores = _score_all(problems, [r["response"] for r in records], args.verifier, max(1, args.batch), kwargs)
    seconds = time.perf_counter() - start
    counts: Counter[str] = Counter()
    for rec, p, s in zip(records, problems, scores):
        is_code = (verifier_name_for(p.task) if args.verifier == "auto" else args.verifier) == "code"
        status = status_of(s, is_code)
        counts[status] += 1
        rec.update({"correct": s.correct, "reason": s.reason})
        rec.update({"status": status} if is_code else {"parsed": s.extracted})
    write_jsonl(args.output, records)
    summary = ", ".join(f"{k} {v}" for k, v in counts.most_common())
    print(f"{len(records)} records in {seconds:.2f}s ({len(records) / max(seconds, 1e-9):.1f}/s): {summary}")
    print(f"wrote {args.output}")
    return 0
