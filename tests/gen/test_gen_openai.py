"""OpenAIGenerator (official openai client) against a fake OpenAI-compatible server on 127.0.0.1."""

import time

import pytest

pytest.importorskip("openai")

from fake_openai_server import fake_openai_server  # noqa: E402  (tests/gen is on sys.path)

from ponder.gen import load_generator, parse_param_count  # noqa: E402
from ponder.gen.openai import OpenAIGenerator  # noqa: E402
from ponder.search import run_search  # noqa: E402
from ponder.types import PonderError, Problem, SamplingParams  # noqa: E402


@pytest.fixture(scope="module")
def server():
    with fake_openai_server() as (url, state):
        yield url, state


def test_completions_grouped_per_prompt_with_stop_and_logprobs(server):
    url, state = server
    gen = load_generator(url)
    assert gen.name == "openai:tiny-served"
    out = gen.generate(["Q1\n", "Q2\n"], SamplingParams(n=2, temperature=0.7, stop=("</think>",)))
    body = state.requests[-1]
    assert body["n"] == 2 and body["stop"] == ["</think>"] and "seed" not in body and body["model"] == "tiny-served"
    assert body["include_stop_str_in_output"] is True and body["logprobs"] == 1
    assert [c.text for c in out[0]] == ["<think>1+1=2</think>"] * 2
    assert [c.finish_reason for c in out[0]] == ["stop", "stop"]
    assert [c.text for c in out[1]] == ["abc#2", "abc#3"]
    assert [c.finish_reason for c in out[1]] == ["eos", "eos"]
    assert out[1][0].token_ids == [ord(c) for c in "abc#2"] and out[1][0].logprobs == [-0.5] * 5
    assert out[0][0].prompt_tokens == 3


def test_a_seeded_call_sends_each_prompt_with_its_own_seed(server):
    url, state = server
    gen = load_generator(url)
    before = len(state.requests)
    params = SamplingParams(n=2, temperature=0.7, seed=3)
    out = gen.generate(["Q1\n", "Q2\n", "Q1\n"], params)
    bodies = state.requests[before:]
    assert sorted((b["prompt"], b["seed"]) for b in bodies) == sorted(
        zip([["Q1\n"], ["Q2\n"], ["Q1\n"]], params.prompt_seeds(3))
    )  # one request per prompt, its seed derived from (3, its index): the repeated prompt differs
    assert [len(g) for g in out] == [2, 2, 2]


def test_stop_string_reappended_when_server_drops_it(server):
    url, state = server
    gen = OpenAIGenerator.from_spec(f"openai:tiny-served@{url}", n_params=123)
    state.honour_include_stop = False
    try:
        out = gen.generate(["Q1\n"], SamplingParams(stop=("STEP",), logprobs=False))
    finally:
        state.honour_include_stop = True
    assert out[0][0].text == "<think>1+1=2</think>\nSTEP" and out[0][0].finish_reason == "stop"
    assert out[0][0].logprobs is None and gen.n_params == 123


def test_plain_server_counts_tokens_from_usage(server):
    url, state = server
    gen = OpenAIGenerator(url, model="tiny-served", vllm_extras=False)
    state.usage_only = True
    try:
        out = gen.generate(["Q2\n"], SamplingParams(n=2))
    finally:
        state.usage_only = False
    assert "return_token_ids" not in state.requests[-1]
    assert [len(c.token_ids) for c in out[0]] == [5, 5] and out[0][0].logprobs is None
    assert out[0][0].prompt_tokens == 3


def test_chat_endpoint_continues_a_partial_answer(server):
    url, state = server
    gen = load_generator(f"chat+openai:tiny-served@{url}")
    assert gen.endpoint == "chat"
    prompt = gen.render_messages([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "abc"}])
    out = gen.generate([prompt], SamplingParams(n=2, stop=("</answer>",)))
    assert state.paths[-1].endswith("/chat/completions")
    assert state.requests[-1]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "abc"},
    ]
    assert [c.text for c in out[0]] == ["<answer>cba</answer>"] * 2 and out[0][0].finish_reason == "stop"
    assert out[0][0].logprobs == [-0.25] * len("<answer>cba</answer>")
    gen.generate([prompt + "step 1\n"], SamplingParams())
    body = state.requests[-1]
    assert body["messages"][-1] == {"role": "assistant", "content": "step 1\n"}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False


def test_concurrency_limit_and_order(server):
    url, state = server
    gen = OpenAIGenerator(url, model="tiny-served", batch_size=1, concurrency=3)
    state.delay, state.peak = 0.2, 0
    try:
        out = gen.generate(["Q1\n", "Q2\n"] * 3, SamplingParams(max_tokens=3))
    finally:
        state.delay = 0.0
    assert state.peak == 3
    assert [g[0].text for g in out] == ["<th", "abc"] * 3


def test_retries_a_busy_server(server):
    url, state = server
    gen = OpenAIGenerator(url, model="tiny-served", max_retries=2)
    state.fail_next = 2
    before = len(state.requests)
    out = gen.generate(["Q2\n"], SamplingParams())
    assert out[0][0].text == "abc#0" and len(state.requests) - before == 3
    state.fail_next = 5
    with pytest.raises(PonderError, match="503"):
        OpenAIGenerator(url, model="tiny-served", max_retries=1).generate(["Q2\n"], SamplingParams())
    state.fail_next = 0


def test_errors_are_one_line_and_fast(server):
    url, state = server
    gen = OpenAIGenerator(url, model="tiny-served")
    with pytest.raises(PonderError, match="400"):
        gen.generate(["boom"], SamplingParams())
    with pytest.raises(PonderError, match="openai:MODEL@"):
        OpenAIGenerator.from_spec("openai:@nowhere")
    start = time.perf_counter()
    with pytest.raises(PonderError, match="cannot reach the server.*ponder serve") as e:
        load_generator("http://127.0.0.1:9/v1").generate(["x"], SamplingParams())
    assert time.perf_counter() - start < 10 and "\n" not in str(e.value)
    state.delay = 1.0
    try:
        with pytest.raises(PonderError, match="timed out"):
            OpenAIGenerator(url, model="tiny-served", timeout=0.3, max_retries=0).generate(["x"], SamplingParams())
    finally:
        state.delay = 0.0


def test_flops_unknown_without_a_parameter_count(server):
    url, _ = server
    problems = [Problem(id="p", task="arithmetic", question="Q2")]
    unknown = run_search("greedy", problems, load_generator(url), budget=1)[0]
    assert unknown.cost.flops is None and unknown.cost.generated_tokens > 0
    known = run_search("greedy", problems, load_generator(url, model_params="7B"), budget=1)[0]
    tokens = known.cost.prompt_tokens + known.cost.generated_tokens
    assert known.cost.flops == pytest.approx(2 * 7e9 * tokens)


def test_parse_param_count():
    assert parse_param_count("7B") == 7_000_000_000 and parse_param_count("1.5b") == 1_500_000_000
    assert parse_param_count("500M") == 500_000_000 and parse_param_count(None) is None
    with pytest.raises(PonderError, match="parameter count"):
        parse_param_count("lots")


def test_reasoning_field_and_usage_counts():
    from ponder.gen.openai_parse import to_completion

    choice = {"index": 0, "finish_reason": "stop",
              "message": {"role": "assistant", "content": "189", "reasoning_content": "21*3=63\n63*3=189"},
              "logprobs": {"content": [{"token": c, "logprob": -0.1} for c in "189"]}}  # fmt: skip
    c = to_completion(choice, SamplingParams(), prompt_tokens=10, fallback_tokens=29)
    assert c.text == "<think>21*3=63\n63*3=189</think>\n189" and len(c.token_ids) == 29
    assert c.logprobs is None and c.prompt_tokens == 10  # 3 logprobs cannot align with 29 tokens


def test_eval_grid_on_a_served_model_counts_flops_only_when_told_its_size(server, tmp_path):
    import json

    from ponder.eval.cli import build_config, run

    url, _ = server
    base = ["--tasks", "arithmetic", "--models", url, "--strategies", "greedy", "--n-problems", "2"]
    for out, extra, expect_known in [("unknown", [], False), ("known", [f'--model-params={{"{url}": "7B"}}'], True)]:
        run(build_config([*base, "--out", str(tmp_path / out), *extra]))
        (row,) = json.loads((tmp_path / out / "summary.json").read_text())
        assert (row["mean_flops"] is not None) == expect_known
        if expect_known:
            assert row["mean_flops"] > 2 * 7e9  # 2 x params x (prompt + generated tokens)
