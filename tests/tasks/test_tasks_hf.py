"""`hf:` sources (tasks/hf.py): published columns and ponder records, splits, a cached hub id
without a network, and one-line errors in seconds when the hub cannot be reached."""

from __future__ import annotations

import time

import pytest

from ponder.tasks import load_task
from ponder.types import PonderError

datasets = pytest.importorskip("datasets")

GSM = [{"question": f"Tom has {i} apples and gets 2 more. How many?", "answer": f"{i}+2={i + 2}\n#### {i + 2}"}
       for i in range(3)]  # fmt: skip


def test_published_columns_files_and_splits(tmp_path):
    ds = datasets.Dataset.from_list(GSM)
    ds.to_parquet(tmp_path / "g.parquet")
    datasets.DatasetDict({"train": ds, "test": ds.select([2])}).save_to_disk(tmp_path / "dd")
    problems = load_task(f"hf:{tmp_path / 'g.parquet'}", n=2)
    assert [p.answer for p in problems] == ["2", "3"] and problems[0].task == "gsm8k"
    assert [p.answer for p in load_task(f"hf:{tmp_path / 'dd'}")] == ["4"]  # default split: test
    assert len(load_task(f"hf:{tmp_path / 'dd'}", split="train")) == 3
    with pytest.raises(PonderError, match=r"has splits \['train', 'test'\], got 'dev'"):
        load_task(f"hf:{tmp_path / 'dd'}", split="dev")
    datasets.Dataset.from_list([{"x": 1}]).save_to_disk(tmp_path / "odd")
    with pytest.raises(PonderError, match="match no known layout"):
        load_task(f"hf:{tmp_path / 'odd'}")
    with pytest.raises(PonderError, match="no such file or folder"):
        load_task("hf:./no/such/folder")


def test_cached_hub_id_loads_without_a_network(tmp_path, monkeypatch):
    from huggingface_hub import constants

    repo = tmp_path / "datasets--org--gsm"
    snap = repo / "snapshots" / ("b" * 40)
    (snap / "data").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("b" * 40)
    datasets.Dataset.from_list(GSM).to_parquet(snap / "data" / "test-00000-of-00001.parquet")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    assert [p.answer for p in load_task("hf:org/gsm", n=1)] == ["2"]


def test_unreachable_hub_fails_fast_on_one_line(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    start = time.perf_counter()
    with pytest.raises(PonderError, match="cannot reach the Hugging Face hub to get data set") as e:
        load_task("hf:nobody/no-such-set")
    assert time.perf_counter() - start < 10 and "\n" not in str(e.value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PonderError, match="not in the local Hugging Face cache and HF_HUB_OFFLINE"):
        load_task("hf:nobody/no-such-set")
