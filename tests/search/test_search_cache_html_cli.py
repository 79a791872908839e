"""Generation cache (re-scoring without generating), the HTML tree page, and `ponder solve`."""

from __future__ import annotations

import json

import pytest
from search_fakes import BAD, BAD2, GOOD, arithmetic_problem, scripted

from ponder.gen.cache import CachedGenerator
from ponder.search import run_search
from ponder.search.html import page_html
from ponder.types import PonderError


def test_cache_replays_and_rescores_without_generating(tmp_path):
    inner = scripted([BAD, GOOD, BAD2])
    gen = CachedGenerator(inner, path=tmp_path / "cache.jsonl")
    problems = [arithmetic_problem("a"), arithmetic_problem("b")]
    first = run_search("best_of_n", problems, gen, budget=16, scorer="confidence", seed=4)
    calls = len(inner.calls)
    again = run_search("best_of_n", problems, gen, budget=16, scorer="check", seed=4)
    assert len(inner.calls) == calls and gen.hits > 0  # re-scored with another scorer, nothing generated
    assert [r.cost.generated_tokens for r in again] == [r.cost.generated_tokens for r in first]
    assert [r.answer for r in again] == ["20", "20"]
    reloaded = CachedGenerator(scripted([]), path=tmp_path / "cache.jsonl")
    third = run_search("best_of_n", problems, reloaded, budget=16, scorer="check", seed=4)
    assert reloaded.misses == 0 and [r.response for r in third] == [r.response for r in again]


def test_cache_keys_differ_by_seed_and_params():
    inner = scripted([BAD, GOOD, BAD2])
    gen = CachedGenerator(inner)
    run_search("majority", [arithmetic_problem()], gen, budget=4, seed=1)
    run_search("majority", [arithmetic_problem()], gen, budget=4, seed=2)
    run_search("majority", [arithmetic_problem()], gen, budget=4, seed=1, temperature=0.5)
    assert gen.misses == 3 and gen.hits == 0


def test_tree_page_is_self_contained_and_marks_the_chosen_path():
    rs = run_search("beam", [arithmetic_problem()], scripted([BAD, GOOD]), budget=4, scorer="check")
    page = page_html(rs)
    assert page.startswith("<!doctype html>") and "http" not in page
    assert page.count('class="chosen') == sum(n.chosen for n in rs[0].tree)
    assert "5*4=20" in page


def test_solve_cli_on_a_fake_model(tmp_path, monkeypatch, capsys):
    from ponder.search import cli

    monkeypatch.setattr("ponder.gen.load_generator", lambda name=None, **kw: scripted([GOOD]))
    monkeypatch.setattr("ponder.tasks.detect_task", lambda text: arithmetic_problem("input", answer=None))
    out, page = tmp_path / "o.json", tmp_path / "t.html"
    rc = cli.main(
        [
            "(2+3)*4",
            "--strategy",
            "beam",
            "--budget",
            "4",
            "--scorer",
            "check",
            "--options.width=2",
            "--json",
            str(out),
            "--tree",
            str(page),
        ]
    )
    assert rc == 0
    rec = json.loads(out.read_text())
    assert rec["results"][0]["answer"] == "20" and rec["results"][0]["correct"] is None
    assert rec["options"] == {"width": 2} and page.read_text().startswith("<!doctype html>")
    assert "20" in capsys.readouterr().out


def test_solve_cli_effort_and_verification(monkeypatch, capsys):
    from ponder.search import cli

    monkeypatch.setattr("ponder.gen.load_generator", lambda name=None, **kw: scripted([GOOD, BAD]))
    monkeypatch.setattr("ponder.tasks.make_problems", lambda task, n, level, seed: [arithmetic_problem("q")] * n)
    assert cli.main(["--task", "arithmetic", "--n", "2", "--effort", "high", "--quiet"]) == 0
    assert "2/2" in capsys.readouterr().out


def test_solve_cli_errors():
    import pytest

    from ponder.search import cli
    from ponder.types import PonderError

    for argv, msg in [
        ([], "nothing to solve"),
        (["1+1", "--task", "arithmetic"], "not both"),
        (["--effort", "low", "--strategy", "beam", "1+1"], "not both"),
        (["1+1", "-o", "width=2"], "unknown option '-o'; options are --key=value"),
        (["1+1", "--budjet=3"], "Did you mean 'budget'"),
        (["1+1", "--options.widht=2", "--strategy=beam"], "widht"),
        (["1+1", "2+2"], "unexpected argument '2\\+2'"),
    ]:
        with pytest.raises(PonderError, match=msg):
            cli.main(argv)


def test_solve_cli_caps_thinking(tmp_path, monkeypatch):
    from ponder.search import cli
    from ponder.search.think_budget import thinking_state

    monkeypatch.setattr("ponder.gen.load_generator", lambda name=None, **kw: scripted([GOOD]))
    monkeypatch.setattr("ponder.tasks.detect_task", lambda text: arithmetic_problem("input", answer=None))
    out = tmp_path / "o.json"
    assert cli.main(["(2+3)*4", "--think-tokens", "4", "--quiet", "--json", str(out)]) == 0
    rec = json.loads(out.read_text())["results"][0]
    assert len(thinking_state(rec["response"])[2].split("</think>")[0]) <= 4  # fake tokens are characters
    assert rec["response"].endswith("</answer>")
    with pytest.raises(PonderError, match="think-tokens"):
        cli.main(["(2+3)*4", "--think-tokens", "-1"])
