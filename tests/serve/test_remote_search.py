"""Search runs against a remote ponder: ponder's own OpenAI backend pointed at `ponder serve`."""

from __future__ import annotations

from serve_consts import KEY

from ponder.gen.openai import OpenAIGenerator
from ponder.search import run_search
from ponder.tasks import make_problems


def _remote(url: str, engine) -> OpenAIGenerator:
    return OpenAIGenerator(url, model="tiny", tokenizer=engine.gen.tokenizer, api_key=KEY, n_params=engine.gen.n_params)


def test_greedy_through_the_server_matches_local(tiny_url, tiny_engine):
    problems = make_problems("arithmetic", 3, seed=5)
    remote = run_search("greedy", problems, _remote(tiny_url, tiny_engine), budget=1)
    local = run_search("greedy", problems, tiny_engine.gen, budget=1)
    assert [r.response for r in remote] == [r.response for r in local]
    assert [r.cost.generated_tokens for r in remote] == [r.cost.generated_tokens for r in local]
    assert [r.cost.prompt_tokens for r in remote] == [r.cost.prompt_tokens for r in local]


def test_step_level_search_through_the_server(tiny_url, tiny_engine):
    problems = make_problems("countdown", 2, seed=5)
    results = run_search("beam", problems, _remote(tiny_url, tiny_engine), budget=4, scorer="check", width=2, seed=1)
    for r in results:
        assert r.response.endswith("</answer>") and r.answer
        assert r.cost.gen_calls >= 2 and r.cost.generated_tokens > 0
