"""Loaders of public data sets from local files, in their published formats (no network).

| name      | file (under the data folder)     | splits                                  |
|-----------|----------------------------------|-----------------------------------------|
| gsm8k     | gsm8k/test.jsonl, train.jsonl    | test (default), train                   |
| math      | math/math500_test.jsonl          | test (MATH-500)                         |
| game24    | game24/24.csv                    | all (default), tot (ranks 901-1000)     |
| humaneval | humaneval/HumanEval.jsonl(.gz)   | test                                    |
| mbpp      | mbpp/mbpp.jsonl                  | all (default), test, train, validation, prompt |

The data folder is $PONDER_DATA_DIR if set, else `../shared/data` (from the current folder);
`path=` names a file or a folder directly. Each record becomes a
Problem with a stable id (the data's own id, or the line number). Bad input (no file, an empty
file, a corrupt line, a record without a required field) is a one-line PonderError naming the
file and line. Left out: downloading, other splits or mirrors (e.g. the full MATH test set in
its original folder layout), and running the code tasks' tests (that is verify/'s job).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ponder.answers import last_boxed  # the one brace-matching \boxed reader
from ponder.io import read_jsonl_numbered
from ponder.registry import Registry
from ponder.types import PonderError, Problem

DATASETS = Registry("dataset")  # name -> Dataset
Rows = Iterable[tuple[int, dict]]  # (line or row number, record)
MBPP_SPLITS = {"test": (11, 510), "validation": (511, 600), "train": (601, 974), "prompt": (1, 10)}
TOT_RANKS = (901, 1000)  # the Game of 24 puzzles evaluated in the Tree-of-Thoughts paper


@dataclass(frozen=True)
class Dataset:
    files: dict[str, tuple[str, ...]]  # split -> candidate paths relative to the data folder
    read: Callable[[Path, str], list[Problem]]  # (file, split) -> problems
    default_split: str


def data_dirs() -> list[Path]:
    """Folders searched for data files, in order."""
    if os.environ.get("PONDER_DATA_DIR"):
        return [Path(os.environ["PONDER_DATA_DIR"])]
    return [Path.cwd().parent / "shared" / "data"]


def load_dataset(
    name: str, path: str | Path | None = None, limit: int | None = None, split: str | None = None
) -> list[Problem]:
    """Problems of a public data set read from a local file. `limit` keeps the first records."""
    ds: Dataset = DATASETS.get(name)
    split = ds.default_split if split is None else split
    if split not in ds.files:
        raise PonderError(f"data set {name!r} has splits {sorted(ds.files)}, got {split!r}")
    if limit is not None and limit < 0:
        raise PonderError(f"limit must be >= 0 or None, got {limit}")
    file = _resolve(name, split, ds.files[split], path)
    try:
        problems = ds.read(file, split)
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise PonderError(f"{file}: cannot read {name} data ({e}); re-copy the file") from None
    return problems if limit is None else problems[:limit]


def _resolve(name: str, split: str, candidates: tuple[str, ...], path: str | Path | None) -> Path:
    if path is not None and Path(path).is_file():
        return Path(path)
    if path is not None and not Path(path).is_dir():
        raise PonderError(f"{name} file not found: {path}")
    dirs = [Path(path)] if path is not None else data_dirs()
    for d in dirs:
        # inside a folder named by the user, the bare file name (e.g. test.jsonl) also counts
        files = [d / rel for rel in candidates] + [d / Path(rel).name for rel in candidates] * (path is not None)
        for f in files:
            if f.is_file():
                return f
    where = ", ".join(str(d) for d in dirs)
    raise PonderError(
        f"{name} ({split}) not found: looked for {' or '.join(candidates)} in {where}; "
        "copy the file there, set PONDER_DATA_DIR, or pass path="
    )


def _field(rec: dict, key: str, kind: type | tuple[type, ...], where: str, fmt: str) -> Any:
    """rec[key], checked; a missing or mistyped field names the file:line and the expected format."""
    if key not in rec or not isinstance(rec[key], kind):
        problem = "lacks" if key not in rec else "has a non-" + getattr(kind, "__name__", "valid")
        raise PonderError(f"{where}: record {problem} field {key!r} ({fmt}); fix or remove that line")
    return rec[key]


def _final_number(text: str, where: str) -> str:
    """The GSM8K answer: what follows `####`, thousands separators removed ("2,125" -> "2125")."""
    m = re.search(r"####\s*(.+?)\s*$", text)
    number = m.group(1).replace(",", "").strip() if m else ""
    if not re.fullmatch(r"-?\d+(\.\d+)?", number):
        raise PonderError(f"{where}: GSM8K answer must end with '#### <number>'; fix or remove that line")
    return number


def _jsonl(rows_fn: Callable[[Rows, str, str], list[Problem]]) -> Callable[[Path, str], list[Problem]]:
    """A reader of a jsonl file from a reader of numbered rows (the same rows a `datasets` table gives)."""

    def read(file: Path, split: str) -> list[Problem]:
        return rows_fn(read_jsonl_numbered(file), str(file), split)

    return read


def gsm8k_rows(rows: Rows, src: str, split: str) -> list[Problem]:
    fmt = "GSM8K jsonl: 'question' and 'answer' ending in '#### <number>'"
    out = []
    for line, rec in rows:
        where = f"{src}:{line}"
        question = _field(rec, "question", str, where, fmt)
        solution = _field(rec, "answer", str, where, fmt)
        out.append(
            Problem(
                id=f"gsm8k-{split}-{line}",
                task="gsm8k",
                question=question,
                answer=_final_number(solution, where),
                info={"solution": solution},
            )
        )
    return out


def math_rows(rows: Rows, src: str, split: str) -> list[Problem]:
    fmt = "MATH jsonl: 'problem', and 'answer' or a 'solution' with \\boxed{}"
    out = []
    for line, rec in rows:
        where = f"{src}:{line}"
        question = _field(rec, "problem", str, where, fmt)
        solution = rec.get("solution", "")
        answer = rec["answer"] if isinstance(rec.get("answer"), str) else last_boxed(str(solution))
        if answer is None:
            _field(rec, "answer", str, where, fmt)  # raises, naming the missing field
        meta = {k: rec.get(k) for k in ("level", "subject", "unique_id")}
        pid = rec.get("unique_id") or f"math-{split}-{line}"
        out.append(
            Problem(id=pid, task="math", question=question, answer=answer, meta=meta, info={"solution": solution})
        )
    return out


def _read_game24(file: Path, split: str) -> list[Problem]:
    with open(file, newline="", encoding="utf-8-sig") as f:
        return game24_rows(list(csv.DictReader(f)), str(file), split)


def game24_rows(rows: list[dict], file: str, split: str) -> list[Problem]:
    """Problems from the Tree-of-Thoughts table's rows (`Rank`, `Puzzles`)."""
    if not rows:
        raise PonderError(f"{file} is empty: expected the Game of 24 csv with a 'Puzzles' column")
    if "Puzzles" not in rows[0]:
        raise PonderError(f"{file}: no 'Puzzles' column (found {list(rows[0])}); use the Tree-of-Thoughts 24.csv")
    out = []
    for line, row in enumerate(rows, 2):  # line 1 is the header
        puzzle, rank_text = str(row.get("Puzzles") or "").split(), str(row.get("Rank") or "").strip()
        if len(puzzle) != 4 or not all(x.isdigit() for x in puzzle) or (rank_text and not rank_text.isdigit()):
            raise PonderError(f"{file}:{line}: expected a rank and four integers like '1 1 4 6'; fix that row")
        rank = int(rank_text) if rank_text else line - 1
        if split == "tot" and not TOT_RANKS[0] <= rank <= TOT_RANKS[1]:
            continue
        numbers = [int(x) for x in puzzle]
        out.append(
            Problem(
                id=f"game24-{rank}",
                task="game24",
                question=f"Use {' '.join(puzzle)} to make 24",  # the Countdown question style
                meta={"numbers": numbers, "target": 24, "rank": rank, "level": 4},
            )
        )
    return out


def humaneval_rows(rows: Rows, src: str, split: str) -> list[Problem]:
    fmt = "HumanEval jsonl: 'task_id', 'prompt', 'entry_point', 'test'"
    out = []
    for line, rec in rows:
        where = f"{src}:{line}"
        task_id, prompt = _field(rec, "task_id", str, where, fmt), _field(rec, "prompt", str, where, fmt)
        info = {
            "test": _field(rec, "test", str, where, fmt),
            "entry_point": _field(rec, "entry_point", str, where, fmt),
            "prompt": prompt,
            "canonical_solution": rec.get("canonical_solution", ""),
        }
        out.append(Problem(id=task_id, task="humaneval", question=prompt, info=info))
    return out


def mbpp_rows(rows: Rows, src: str, split: str) -> list[Problem]:
    fmt = "MBPP jsonl: 'task_id' (int), 'text', 'test_list' (list of asserts)"
    lo, hi = MBPP_SPLITS.get(split, (0, 10**9))
    out = []
    for line, rec in rows:
        where = f"{src}:{line}"
        task_id, text = _field(rec, "task_id", int, where, fmt), _field(rec, "text", str, where, fmt)
        tests = _field(rec, "test_list", list, where, fmt)
        if not tests:
            raise PonderError(f"{where}: MBPP record has an empty 'test_list'; fix or remove that line")
        if not lo <= task_id <= hi:
            continue
        info = {
            "test_list": tests,
            "test_setup_code": rec.get("test_setup_code", ""),
            "challenge_test_list": rec.get("challenge_test_list", []),
            "code": rec.get("code", ""),
        }
        question = f"{text}\nYour code should pass this test:\n{tests[0]}"
        out.append(Problem(id=f"mbpp-{task_id}", task="mbpp", question=question, info=info))
    return out


DATASETS.register("gsm8k")(
    Dataset({"test": ("gsm8k/test.jsonl",), "train": ("gsm8k/train.jsonl",)}, _jsonl(gsm8k_rows), "test")
)
DATASETS.register("math")(Dataset({"test": ("math/math500_test.jsonl",)}, _jsonl(math_rows), "test"))
DATASETS.register("game24")(Dataset({"all": ("game24/24.csv",), "tot": ("game24/24.csv",)}, _read_game24, "all"))
DATASETS.register("humaneval")(
    Dataset({"test": ("humaneval/HumanEval.jsonl.gz", "humaneval/HumanEval.jsonl")}, _jsonl(humaneval_rows), "test")
)
DATASETS.register("mbpp")(Dataset(dict.fromkeys(["all", *MBPP_SPLITS], ("mbpp/mbpp.jsonl",)), _jsonl(mbpp_rows), "all"))
