"""Files that are never half-written: write to a temporary file beside the target, then rename.
Readers of jsonl name the file and line of any corrupt record."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from ponder.types import PonderError


@contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temp file in the target's folder; on success flush it to disk (fsync) and rename it
    over the target, so a crash leaves the old file or the new one, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results are ordinary files others may read
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_write(path) as f:
        json.dump(obj, f, indent=2, default=str)
        f.write("\n")


def write_jsonl(path: str | Path, records: Iterable[dict]) -> None:
    with atomic_write(path) as f:
        for r in records:
            f.write(json.dumps(r, default=str) + "\n")


def read_jsonl(path: str | Path) -> list[dict]:
    """All records of a jsonl(.gz) file; a corrupt line is an error naming file and line."""
    return [rec for _, rec in read_jsonl_numbered(path)]


def read_jsonl_numbered(path: str | Path) -> list[tuple[int, dict]]:
    """(line number, record) for every non-blank line of a jsonl(.gz) file, so that callers
    checking fields can name the line; a corrupt line is an error naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise PonderError(f"file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    records = []
    with opener(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise PonderError(f"{path}:{i}: not valid JSON ({e.msg}); fix or remove that line") from None
            if not isinstance(rec, dict):
                raise PonderError(f"{path}:{i}: expected a JSON object per line")
            records.append((i, rec))
    if not records:
        raise PonderError(f"{path} is empty: expected one JSON object per line")
    return records


def read_log(path: str | Path) -> list[dict]:
    """The records of an append-only log such as a run's metrics.jsonl, which a kill may have cut
    mid-line: unreadable lines and non-objects are skipped, a missing file reads as []."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out
