"""The grid end to end on a scripted generator: files, known numbers, resume, crashed cells."""

import json
from pathlib import Path

import pytest
from eval_fakes import PROBLEMS, _backends, _cfg, _script

from ponder.eval.grid import Backends, run_grid
from ponder.eval.grid_config import EvalConfig
from ponder.gen.fake import FakeGenerator
from ponder.io import read_jsonl
from ponder.types import PonderError, Problem, Score


def _row(rows, strategy, budget):
    return next(r for r in rows if r["strategy"] == strategy and r["budget"] == budget)


def test_grid_numbers_files_and_crashed_cell(tmp_path):
    rows = run_grid(_cfg(tmp_path), _backends())
    out = tmp_path / "run"
    assert {p.name for p in out.iterdir()} >= {
        "results.jsonl",
        "summary.json",
        "cells.json",
        "run.json",
        "pools",
        "trees",
    }
    # maj@4: p0 right, p1 tie 2-2 (half credit), p2 only voter is right, p3 no vote -> 2.5 / 4
    assert _row(rows, "majority", 4)["accuracy"] == pytest.approx(0.625)
    assert _row(rows, "pass", 4)["accuracy"] == pytest.approx(0.75)
    # maj@1 = share of right samples: (4 + 2 + 1 + 0) / 16
    assert _row(rows, "majority", 1)["accuracy"] == pytest.approx(7 / 16)
    assert _row(rows, "greedy", 1)["accuracy"] == pytest.approx(0.75)  # sample 0 is right on p0, p1, p2
    assert [r["budget"] for r in rows if r["strategy"] == "greedy"] == [1]  # budget-free: run once
    boom = [r for r in rows if r["strategy"] == "boom"]
    assert len(boom) == 3 and all(r["status"] == "error" and "simulated crash" in r["error"] for r in boom)
    tokens1, tokens4 = (
        _row(rows, "majority", 1)["mean_generated_tokens"],
        _row(rows, "majority", 4)["mean_generated_tokens"],
    )
    assert tokens4 == pytest.approx(4 * tokens1)
    records = read_jsonl(out / "results.jsonl")
    assert len(records) == 4 * (1 + 3 + 3)  # problems x finished cells
    assert all(
        {"answer", "correct", "generated_tokens", "flops", "trace", "tree_id", "question"} <= set(r) for r in records
    )
    assert json.loads((out / "summary.json").read_text()) == rows


class _NoGen(FakeGenerator):
    def generate(self, prompts, params):
        raise AssertionError("a finished cell was run again")


def test_rerun_skips_finished_cells_and_retries_failed(tmp_path):
    cfg = _cfg(tmp_path, strategies=["greedy", "majority"])
    first = run_grid(cfg, _backends())
    before = (tmp_path / "run" / "results.jsonl").read_text()
    again = run_grid(_cfg(tmp_path, strategies=["greedy", "majority"]), _backends(gen=_NoGen(_script)))
    assert again == first
    assert (tmp_path / "run" / "results.jsonl").read_text() == before
    # a new strategy in the same folder runs only its own cells; a failed one is retried next time
    rows = run_grid(_cfg(tmp_path, strategies=["greedy", "majority", "boom"]), _backends())
    assert len(rows) == 1 + 3 + 3
    cells = json.loads((tmp_path / "run" / "cells.json").read_text())
    assert sum(c["status"] == "error" for c in cells) == 3


def test_budget_larger_than_pool_is_a_clear_error(tmp_path):
    with pytest.raises(PonderError, match="budget 8 is larger than the 4 samples"):
        run_grid(_cfg(tmp_path, budgets=[1, 8], pool_size=4), _backends())


def test_changed_identity_refuses_the_folder(tmp_path):
    run_grid(_cfg(tmp_path, strategies=["majority"]), _backends())
    with pytest.raises(PonderError, match="n_problems"):
        run_grid(_cfg(tmp_path, strategies=["majority"], n_problems=3), _backends())


def test_bad_task_fails_its_cells_and_the_grid_goes_on(tmp_path):
    rows = run_grid(_cfg(tmp_path, tasks=["broken", "toy"], strategies=["majority"]), _backends())
    broken = [r for r in rows if r["task"] == "broken"]
    assert broken and all(r["status"] == "error" and "empty" in r["error"] for r in broken)
    assert all(r["status"] == "ok" for r in rows if r["task"] == "toy")


def test_search_cells_save_trees(tmp_path):
    run_grid(_cfg(tmp_path, strategies=["greedy"]), _backends())
    rec = read_jsonl(tmp_path / "run" / "results.jsonl")[0]
    path, _, pid = rec["tree_id"].partition("#")
    trees = read_jsonl(tmp_path / "run" / path)
    assert [t["problem_id"] for t in trees] == [p.id for p in PROBLEMS] and pid == "p0"


DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.mark.skipif(not (DATA / "gsm8k" / "test.jsonl").is_file(), reason="needs ../shared/data/gsm8k")
def test_gsm8k_from_local_file_through_the_math_verifier(tmp_path):
    from ponder.eval.grid_config import load_problems
    from ponder.verify import verify

    def script(prompt: str, i: int) -> str:  # GSM8K test #1 (Janet's ducks) has answer 18
        return "<think>16-3-4=9; 9*2=18</think>\n<answer>18</answer>" if "Janet" in prompt else "<answer>0</answer>"

    be = Backends(make_gen=lambda name: FakeGenerator(script), get_problems=load_problems, verify_fn=verify)
    cfg = EvalConfig(tasks=["gsm8k"], strategies=["majority"], budgets=[1, 2], n_problems=3, out=str(tmp_path / "g"),
                     data={"gsm8k": str(DATA / "gsm8k" / "test.jsonl")})  # fmt: skip
    rows = run_grid(cfg, be)
    assert [r["accuracy"] for r in rows] == pytest.approx([1 / 3, 1 / 3])


def test_empty_data_file_is_a_failed_cell_with_a_clear_message(tmp_path):
    from ponder.eval.grid_config import load_problems

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    be = Backends(make_gen=lambda name: FakeGenerator(_script), get_problems=load_problems, verify_fn=lambda p, r: [])
    cfg = EvalConfig(tasks=["gsm8k"], strategies=["majority"], budgets=[1], n_problems=3, out=str(tmp_path / "g"),
                     data={"gsm8k": str(empty)})  # fmt: skip
    (row,) = run_grid(cfg, be)
    assert row["status"] == "error" and "empty" in row["error"]


def test_unknown_strategy_is_refused_before_any_work(tmp_path):
    from ponder.eval.grid import default_backends

    be = default_backends()
    be.make_gen = lambda name: FakeGenerator(_script)
    with pytest.raises(PonderError, match="unknown search strategy 'beem'.*beam"):
        run_grid(_cfg(tmp_path, strategies=["majority", "beem"]), be)
    assert not (tmp_path / "run").exists()


def test_vote_keys_never_come_from_the_verifier(tmp_path):
    """A verifier whose `extracted` is its verdict ('passed'/'failed', as the code verifier's is)
    must not decide the vote: 1 right and 3 distinct wrong untagged responses tie 1-1-1-1."""
    from ponder.answers import answer_of as answer_key
    from ponder.eval.sample_pool import build_pool

    def script(prompt, i):
        return f"the answer is {10 + i}"  # no <answer> tag; i = 0 is right

    def leaky_verify(problems, responses):
        return [
            Score(float(r.endswith("10")), True, extracted="passed" if r.endswith("10") else "failed")
            for r in responses
        ]

    (pool,) = build_pool([Problem("a", "toy", "q", "10")], FakeGenerator(script), n=4, temperature=1.0,
                         max_tokens=50, seed=0, verify_fn=leaky_verify)  # fmt: skip
    assert [s.key for s in pool.samples] == ["10", "11", "12", "13"]
    assert answer_key("```python\ndef f():\n    return 1\n```", "humaneval") == "def f(): return 1"
    assert answer_key("no answer here", "toy") is None


def test_pooled_and_searched_majority_vote_on_the_same_key():
    """Eval's pooled majority/weighted and search's majority/weighted read the same answer from the
    same samples, including untagged ones ("the answer is 7") and spacing ("1 2" vs "1  2")."""
    from ponder.eval.cells import _first_k_choice
    from ponder.eval.sample_pool import build_pool
    from ponder.search import run_search

    texts = ["the answer is 7", "<answer>5</answer>", "The answer is 7.", "<answer> 5 </answer>", "\\boxed{7}"]
    gen = FakeGenerator(lambda prompt, i: texts[i % len(texts)])
    problem = Problem("a", "toy", "q", "7")
    (pool,) = build_pool([problem], gen, n=5, temperature=1.0, max_tokens=50, seed=0,
                         verify_fn=lambda ps, rs: [Score(0.0) for _ in rs])  # fmt: skip
    for strategy in ("majority", "weighted"):
        searched = run_search(strategy, [problem], gen, budget=5, scorer="confidence", seed=0)[0]
        assert pool.samples[_first_k_choice(strategy, pool, 5)].key == searched.answer == "7"
