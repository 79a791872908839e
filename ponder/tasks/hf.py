"""Problems from a Hugging Face `datasets` source: `hf:PATH` names a folder written by
`Dataset.save_to_disk`, a parquet / json(l) / csv / arrow file, a folder of such files (split by
file name, as `datasets` does), or a hub id (read from the local cache; downloaded only where there
is a network).

The table's columns say what it holds: the record schema (`task`, `question`, … as ponder writes
it, ponder/records.py), or one of the public data sets' published columns (GSM8K `question` +
`answer` with `####`, MATH `problem`, HumanEval `task_id` + `prompt` + `test`, MBPP `text` +
`test_list`, Game of 24 `Puzzles`), parsed by the same row readers as the local files
(tasks/loaders.py). Left out: dataset configs (`name=`), streaming, column renames by the user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ponder.tasks import loaders as L
from ponder.types import PonderError, Problem

PREFIX = "hf:"
SUFFIX_BUILDERS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".csv": "csv", ".arrow": "arrow"}


def _records(rows: Any, src: str, split: str) -> list[Problem]:
    """Ponder records; `meta` / `info` may be JSON text (as integrations.trl.problems_dataset
    writes them: arrow tables want one type per column)."""
    import json

    from ponder.records import problem_of

    out = []
    for i, row in rows:
        rec = dict(row)
        for key in ("meta", "info"):
            if isinstance(rec.get(key), str):
                try:
                    rec[key] = json.loads(rec[key])
                except ValueError:
                    raise PonderError(f"{src}:{i}: column {key!r} is neither an object nor JSON text") from None
        out.append(problem_of(rec, f"{src}:{i}"))
    return out


SCHEMAS: list[tuple[set[str], Any]] = [  # (columns that identify it, row reader), first match wins
    ({"task", "question"}, _records),
    ({"Puzzles"}, lambda rows, src, split: L.game24_rows([r for _, r in rows], src, "all")),
    ({"task_id", "prompt", "entry_point", "test"}, L.humaneval_rows),
    ({"task_id", "text", "test_list"}, lambda rows, src, split: L.mbpp_rows(rows, src, "all")),
    ({"question", "answer"}, L.gsm8k_rows),
    ({"problem"}, L.math_rows),
]


def load_hf(spec: str, n: int | None = None, split: str | None = None) -> list[Problem]:
    """The problems of `hf:PATH_OR_ID` (the first n of `split`; null split: test, else train,
    else the only one)."""
    table, where = _open(spec[len(PREFIX) :], split)
    columns = set(table.column_names)
    for needed, reader in SCHEMAS:
        if needed <= columns:
            rows = table if n is None else table.select(range(min(n, len(table))))
            return reader(enumerate(rows, 1), where, split or "all")
    raise PonderError(
        f"{where}: columns {sorted(columns)} match no known layout; expected ponder records (task, question, "
        "answer) or GSM8K / MATH / HumanEval / MBPP / Game of 24 columns"
    )


def _open(path: str, split: str | None):
    """(a `datasets.Dataset`, a name for errors) for one split of the source."""
    try:
        import datasets
    except ImportError:
        raise PonderError("hf: sources need the `datasets` package (pip install datasets)") from None
    datasets.disable_progress_bars()
    p = Path(path)
    try:
        if p.is_dir() and ((p / "dataset_info.json").is_file() or (p / "dataset_dict.json").is_file()):
            loaded = datasets.load_from_disk(str(p))
        elif p.is_file():
            builder = SUFFIX_BUILDERS.get(p.suffix)
            if builder is None:
                raise PonderError(f"{p}: not a parquet, json(l), csv or arrow file")
            loaded = datasets.load_dataset(builder, data_files={"train": str(p)})
        elif p.is_dir():
            loaded = datasets.load_dataset(str(p))
        elif p.is_absolute() or path.startswith("."):
            raise PonderError(f"hf:{path}: no such file or folder")
        else:
            loaded = datasets.load_dataset(_hub_source(path))  # a cached snapshot folder, or the id
    except PonderError:
        raise
    except Exception as e:  # datasets raises many kinds (connection, missing files, bad format)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise PonderError(
            f"cannot read hf:{path} ({first[:200]}); give a saved-to-disk folder or a parquet/json file, "
            "or a hub id that is in the local cache (needs a network otherwise)"
        ) from None
    return _pick_split(loaded, split, path), f"hf:{path}"


def _hub_source(repo_id: str, timeout: float = 5.0) -> str:
    """A data-set hub id -> its cached snapshot folder (no network touched), else the id itself
    once the hub has answered within `timeout` seconds: no network fails in seconds, not after
    `datasets`' retries."""
    import os

    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return snapshot_download(repo_id, repo_type="dataset", local_files_only=True)
    except LocalEntryNotFoundError:
        pass
    instead = f"give a local folder or file (hf:./folder), or download it where there is a network (`hf download --repo-type dataset {repo_id}`)"
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise PonderError(
            f"data set {repo_id!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set; {instead}"
        )
    try:
        HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None).dataset_info(repo_id, timeout=timeout)
    except RepositoryNotFoundError:
        raise PonderError(f"no data set {repo_id!r} on the Hugging Face hub (private? `hf auth login`)") from None
    except Exception as e:  # any network failure (the hub client's transport errors differ by version)
        why = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise PonderError(f"cannot reach the Hugging Face hub to get data set {repo_id!r} ({why}); {instead}") from None
    return repo_id


def _pick_split(loaded, split: str | None, path: str):
    if not hasattr(loaded, "keys"):  # a single Dataset
        return loaded
    names = list(loaded.keys())
    if split is None:
        split = next((s for s in ("test", "train") if s in names), names[0])
    if split not in names:
        raise PonderError(f"hf:{path} has splits {names}, got {split!r}")
    return loaded[split]
