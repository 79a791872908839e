"""Input of `ponder verify`: read records line by line, name every bad one by file:line.

`read_records` never raises on a bad line: invalid UTF-8, invalid JSON, a value that is not an
object come back as `BadLine`s (the caller stops on the first or skips and counts them); a
missing or unreadable file, a folder, or a corrupt .gz stream is a PonderError naming the file.
`record_problem` turns a record into a Problem, or says which field is missing or malformed —
naming the reference field the chosen verifier expects (`answer` for math; `test` +
`entry_point` or `test_list` for code), so a misnamed `answers`/`gold` is an error, not a run
that scores everything wrong.

Left out: field-name guessing (we name what we found, never remap it).
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

from ponder.types import PonderError, Problem

CODE_KEYS = ("test", "entry_point", "prompt", "test_list", "test_setup_code", "challenge_test_list", "code")
MATH_TASKS = ("math", "gsm8k")
_LOOKALIKES = ("answers", "gold", "reference", "ref", "target", "label", "solution", "expected", "ground_truth")


@dataclass
class BadLine:
    line: int
    message: str


def read_records(path: str | Path) -> list[tuple[int, dict | BadLine]]:
    """(line number, record or BadLine) for every non-blank line of a jsonl(.gz) file."""
    path = Path(path)
    if path.is_dir():
        raise PonderError(f"{path} is a folder; expected a .jsonl (or .jsonl.gz) file")
    if not path.is_file():
        raise PonderError(f"file not found: {path}")
    out: list[tuple[int, dict | BadLine]] = []
    opener = gzip.open if path.suffix == ".gz" else open
    i = 0
    try:
        with opener(path, "rb") as f:
            for i, raw in enumerate(f, 1):
                item = _parse_line(raw[3:] if i == 1 and raw.startswith(b"\xef\xbb\xbf") else raw, i)
                if item is not None:
                    out.append((i, item))
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise PonderError(
            f"{path}: cannot read past line {i} ({type(e).__name__}: {e}); is the file corrupt?"
        ) from None
    if not out:
        raise PonderError(f"{path} is empty: expected one JSON object per line")
    return out


def _parse_line(raw: bytes, i: int) -> dict | BadLine | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return BadLine(i, f"not valid UTF-8 (byte {e.start})")
    if not text.strip():
        return None
    try:
        rec = json.loads(text)
    except (ValueError, RecursionError) as e:
        return BadLine(i, f"not valid JSON ({getattr(e, 'msg', type(e).__name__)})")
    return rec if isinstance(rec, dict) else BadLine(i, f"expected a JSON object, got {type(rec).__name__}")


def _missing_reference(rec: dict, verifier: str, task: str) -> str:
    """Why `rec` lacks the reference its verifier needs ("" when it has it)."""
    found = [k for k in _LOOKALIKES if k in rec]
    hint = f" (found {', '.join(f'`{k}`' for k in found)}; rename it)" if found else ""
    if (verifier == "math" or (verifier == "auto" and task in MATH_TASKS)) and rec.get("answer") is None:
        return f"no `answer` field (the reference answer the math verifier compares against){hint}"
    if verifier == "code" or task in ("humaneval", "mbpp"):
        info = {**(rec.get("info") or {}), **rec}
        if not (info.get("test") and info.get("entry_point")) and not info.get("test_list"):
            return f"no tests: the code verifier needs `test` + `entry_point` (HumanEval) or `test_list` (MBPP){hint}"
    return ""


def record_problem(rec: dict, i: int, verifier: str) -> Problem | str:
    """The Problem a record stands for, or a one-line reason it is not usable."""
    if not isinstance(rec.get("response"), str):
        return "no string `response` field"
    if "problem" in rec:
        if not isinstance(rec["problem"], dict):
            return f"`problem` must be an object, got {type(rec['problem']).__name__}"
        try:
            return Problem.from_dict({"id": str(i), "question": "", **rec["problem"]})
        except (TypeError, ValueError, PonderError) as e:
            return f"`problem` is not a valid problem ({e})"
    for key in ("info", "meta"):
        if key in rec and not isinstance(rec[key], dict):
            return f"`{key}` must be an object, got {type(rec[key]).__name__}"
    task = rec.get("task") or ("math" if verifier == "auto" else verifier)
    if not isinstance(task, str):
        return f"`task` must be a string, got {type(task).__name__}"
    reason = _missing_reference(rec, verifier, task)
    if reason:
        return reason
    info = {**rec.get("info", {}), **{k: rec[k] for k in CODE_KEYS if k in rec}}
    answer = rec.get("answer")
    return Problem(
        id=str(rec.get("id", i)), task=task, question=str(rec.get("question", "")),
        answer=None if answer is None else str(answer), meta=rec.get("meta", {}), info=info,
    )  # fmt: skip
