"""Loaders: the real files when present (counts and fields), and bad input as clear errors."""

import gzip
import json
from pathlib import Path

import pytest

from ponder.tasks.loaders import DATASETS, last_boxed, load_dataset
from ponder.types import PonderError

REPO = Path(__file__).resolve().parents[2]
DATA = next((d for d in (REPO.parent / "shared" / "data", Path("/work/shared/data")) if d.is_dir()), None)
needs_data = pytest.mark.skipif(DATA is None, reason="no shared data folder")


@needs_data
@pytest.mark.parametrize(
    "name,split,count",
    [
        ("gsm8k", "test", 1319),
        ("gsm8k", "train", 7473),
        ("math", None, 500),
        ("humaneval", None, 164),
        ("mbpp", None, 974),
        ("mbpp", "test", 500),
        ("game24", None, 1362),
        ("game24", "tot", 100),
    ],
)
def test_real_files_counts_and_unique_ids(name, split, count):
    problems = load_dataset(name, path=DATA, split=split)
    assert len(problems) == count
    assert len({p.id for p in problems}) == count
    assert all(p.task == name and p.question for p in problems)


@needs_data
def test_real_files_fields():
    gsm = load_dataset("gsm8k", path=DATA)
    assert (gsm[0].id, gsm[0].answer) == ("gsm8k-test-1", "18")
    assert gsm[0].info["solution"].endswith("#### 18")
    assert all("," not in p.answer for p in gsm) and any(p.answer.startswith("-") for p in gsm)
    math = load_dataset("math", path=DATA, limit=1)[0]
    assert math.id == "test/precalculus/807.json"
    assert math.answer == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert math.meta == {"level": 2, "subject": "Precalculus", "unique_id": "test/precalculus/807.json"}
    g24 = load_dataset("game24", path=DATA)
    assert (g24[0].question, g24[0].meta["rank"], g24[-1].meta["numbers"]) == (
        "Use 1 1 4 6 to make 24",
        1,
        [2, 3, 5, 12],
    )
    he = load_dataset("humaneval", path=DATA)[0]
    assert (he.id, he.info["entry_point"]) == ("HumanEval/0", "has_close_elements")
    assert "def check(candidate)" in he.info["test"] and he.question == he.info["prompt"]
    mb = load_dataset("mbpp", path=DATA, limit=3)
    assert [p.id for p in mb] == ["mbpp-1", "mbpp-2", "mbpp-3"]
    assert mb[0].info["test_list"][0] in mb[0].question and len(mb[0].info["test_list"]) == 3


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_gsm8k_small_file_and_limit(tmp_path):
    rec = {"question": "How many?", "answer": "2 + 3 = 5\n#### 2,125"}
    f = _write(tmp_path / "g.jsonl", [json.dumps(rec)] * 3)
    problems = load_dataset("gsm8k", path=f, limit=2)
    assert [p.answer for p in problems] == ["2125", "2125"]
    assert [p.id for p in problems] == ["gsm8k-test-1", "gsm8k-test-2"]


def test_missing_empty_corrupt_and_incomplete_files(tmp_path):
    with pytest.raises(PonderError, match="not found"):
        load_dataset("gsm8k", path=tmp_path / "nope.jsonl")
    with pytest.raises(PonderError, match="empty"):
        load_dataset("gsm8k", path=_write(tmp_path / "empty.jsonl", []))
    good = json.dumps({"question": "q", "answer": "#### 1"})
    with pytest.raises(PonderError, match=r"corrupt.jsonl:2: not valid JSON"):
        load_dataset("gsm8k", path=_write(tmp_path / "corrupt.jsonl", [good, "{oops"]))
    with pytest.raises(PonderError, match=r"missing.jsonl:3: record lacks field 'answer'"):
        load_dataset("gsm8k", path=_write(tmp_path / "missing.jsonl", [good, "", json.dumps({"question": "q"})]))
    with pytest.raises(PonderError, match=r"nohash.jsonl:1: .*####"):
        load_dataset("gsm8k", path=_write(tmp_path / "nohash.jsonl", [json.dumps({"question": "q", "answer": "5"})]))
    with pytest.raises(PonderError, match=r"mbpp.jsonl:1: record has a non-int field 'task_id'"):
        load_dataset("mbpp", path=_write(tmp_path / "mbpp.jsonl", [json.dumps({"task_id": "x", "text": "t"})]))
    (tmp_path / "bad.jsonl.gz").write_bytes(b"not gzip")
    with pytest.raises(PonderError, match="cannot read humaneval"):
        load_dataset("humaneval", path=tmp_path / "bad.jsonl.gz")


def test_game24_csv_errors(tmp_path):
    with pytest.raises(PonderError, match="empty"):
        load_dataset("game24", path=_write(tmp_path / "a.csv", ["Rank,Puzzles"]))
    with pytest.raises(PonderError, match="no 'Puzzles' column"):
        load_dataset("game24", path=_write(tmp_path / "b.csv", ["Rank,Numbers", "1,1 2 3 4"]))
    with pytest.raises(PonderError, match=r"c.csv:3: expected"):
        load_dataset("game24", path=_write(tmp_path / "c.csv", ["Rank,Puzzles", "1,1 2 3 4", "2,1 2 x 4"]))


def test_names_splits_and_data_dir_override(tmp_path, monkeypatch):
    with pytest.raises(PonderError, match="Known: game24, gsm8k, humaneval, math, mbpp"):
        load_dataset("gsm8")
    with pytest.raises(PonderError, match="splits"):
        load_dataset("math", split="train")
    monkeypatch.setenv("PONDER_DATA_DIR", str(tmp_path))
    with pytest.raises(PonderError, match=f"looked for gsm8k/test.jsonl in {tmp_path}"):
        load_dataset("gsm8k")
    (tmp_path / "humaneval").mkdir()
    rec = {"task_id": "HumanEval/7", "prompt": "def f():\n", "entry_point": "f", "test": "def check(c): pass"}
    with gzip.open(tmp_path / "humaneval" / "HumanEval.jsonl.gz", "wt") as f:
        f.write(json.dumps(rec) + "\n")
    [p] = load_dataset("humaneval")
    assert (p.id, p.answer, p.info["canonical_solution"]) == ("HumanEval/7", None, "")
    assert sorted(DATASETS.names()) == ["game24", "gsm8k", "humaneval", "math", "mbpp"]


def test_math_answer_falls_back_to_last_boxed(tmp_path):
    rec = {"problem": "p", "solution": "so $\\boxed{1}$ then $\\boxed{\\frac{1}{2}}$."}
    [p] = load_dataset("math", path=_write(tmp_path / "m.jsonl", [json.dumps(rec)]))
    assert (p.answer, p.id) == ("\\frac{1}{2}", "math-test-1")
    assert last_boxed("no box") is None and last_boxed("\\boxed{a{b}") is None
    with pytest.raises(PonderError, match="lacks field 'answer'"):
        load_dataset("math", path=_write(tmp_path / "n.jsonl", [json.dumps({"problem": "p"})]))
