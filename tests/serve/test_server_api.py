"""`ponder serve` through the official openai client (sync and async, streamed and not), on the
tiny reasoner: reasoning / content split, usage, every effort level, the thinking budget, the
`ponder` field, n / seed / stop / logprobs, /v1/completions, models, health and metrics."""

from __future__ import annotations

import asyncio

import pytest

from ponder.search.effort import EFFORT_LEVELS
from ponder.steps import parse_response

ARITH = [{"role": "user", "content": "(27+13)-24+34=?"}]
COUNTDOWN = [{"role": "user", "content": "Use 14 4 10 to make 20"}]


def _ponder(r) -> dict:
    return r.model_extra["ponder"]


def _reasoning(msg) -> str | None:
    return msg.model_extra.get("reasoning")


def test_reasoning_and_content_are_split_with_usage(client, tiny_engine):
    r = client.chat.completions.create(model="tiny", messages=ARITH, reasoning_effort="low")
    msg = r.choices[0].message
    reasoning = _reasoning(msg)
    assert reasoning and msg.content and "<think>" not in reasoning and "<answer>" not in msg.content
    assert msg.model_extra["reasoning_content"] == reasoning
    assert r.choices[0].finish_reason == "stop"
    trace = f"<think>{reasoning}</think>\n<answer>{msg.content}</answer>"
    assert r.usage.completion_tokens == tiny_engine.count(trace)
    assert r.usage.completion_tokens_details.reasoning_tokens == tiny_engine.count(f"<think>{reasoning}</think>")
    assert r.usage.prompt_tokens > 0 and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    p = _ponder(r)
    assert p["strategy"] == "greedy" and p["effort"] == "low"
    assert p["cost"]["generated_tokens"] >= r.usage.completion_tokens - 1 and p["cost"]["flops"] > 0


@pytest.mark.parametrize("effort", list(EFFORT_LEVELS))
def test_every_effort_level_answers_within_its_thinking_budget(client, tiny_engine, effort):
    r = client.chat.completions.create(model="tiny", messages=COUNTDOWN, reasoning_effort=effort)
    msg, level = r.choices[0].message, EFFORT_LEVELS[effort]
    assert msg.content, "content is never empty because of reasoning"
    p = _ponder(r)
    assert (p["strategy"], p["budget"], p["think_tokens"]) == (level.strategy, level.budget, level.think_tokens)
    think = tiny_engine.count(_reasoning(msg) or "")
    assert think <= level.think_tokens
    assert p["cost"]["generated_tokens"] >= r.usage.completion_tokens - 1
    if level.budget > 1:
        assert p["cost"]["scorer_calls"] > 0


def test_thinking_budget_and_small_max_tokens_still_answer(client, tiny_engine):
    r = client.chat.completions.create(
        model="tiny", messages=COUNTDOWN, reasoning_effort="low", extra_body={"ponder": {"think_tokens": 6}}
    )
    assert r.choices[0].message.content and tiny_engine.count(_reasoning(r.choices[0].message)) <= 6
    r = client.chat.completions.create(model="tiny", messages=COUNTDOWN, reasoning_effort="high", max_tokens=16)
    msg = r.choices[0].message
    assert msg.content, "reasoning must not eat max_tokens"
    assert r.usage.completion_tokens <= 16
    r = client.chat.completions.create(model="tiny", messages=COUNTDOWN, max_completion_tokens=12)
    assert r.choices[0].message.content and r.usage.completion_tokens <= 12


def test_ponder_field_names_strategy_budget_and_scorer(client):
    body = {"ponder": {"strategy": "beam", "budget": 4, "scorer": "check", "options": {"width": 2}}}
    r = client.chat.completions.create(model="tiny", messages=COUNTDOWN, extra_body=body)
    p = _ponder(r)
    assert (p["strategy"], p["budget"], p["scorer"]) == ("beam", 4, "check")
    assert p["cost"]["scorer_calls"] > 0 and r.choices[0].message.content


def test_n_seed_temperature_stop_and_logprobs(client):
    kw = dict(model="tiny", messages=ARITH, reasoning_effort="low", n=3, temperature=1.0, seed=7)
    a = client.chat.completions.create(**kw)
    b = client.chat.completions.create(**kw)
    assert [c.index for c in a.choices] == [0, 1, 2]
    assert [c.message.content for c in a.choices] == [c.message.content for c in b.choices]
    assert len({_reasoning(c.message) for c in a.choices}) > 1  # sampled, not greedy
    g = client.chat.completions.create(model="tiny", messages=ARITH, reasoning_effort="low", temperature=0, n=2)
    assert g.choices[0].message.content == g.choices[1].message.content
    full = g.choices[0].message.content
    if len(full) > 1:
        cut = client.chat.completions.create(model="tiny", messages=ARITH, temperature=0, stop=[full[1:]])
        assert cut.choices[0].message.content == full[:1] and cut.choices[0].finish_reason == "stop"
    lp = client.chat.completions.create(model="tiny", messages=ARITH, temperature=0, logprobs=True)
    entries = lp.choices[0].logprobs.content
    assert "".join(e.token for e in entries) == lp.choices[0].message.content
    assert all(e.logprob <= 0 for e in entries)


def test_stream_sends_reasoning_then_content_then_usage(client):
    plain = client.chat.completions.create(model="tiny", messages=COUNTDOWN, reasoning_effort="low")
    stream = client.chat.completions.create(
        model="tiny", messages=COUNTDOWN, reasoning_effort="low", stream=True, stream_options={"include_usage": True}
    )
    kinds, reasoning, content, usage, finish = [], "", "", None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
            continue
        delta = chunk.choices[0].delta
        if (delta.model_extra or {}).get("reasoning"):
            kinds.append("r")
            reasoning += delta.model_extra["reasoning"]
        if delta.content:
            kinds.append("c")
            content += delta.content
        finish = chunk.choices[0].finish_reason or finish
    assert kinds == sorted(kinds, reverse=True) and kinds.count("r") >= 1 and kinds[-1] == "c"
    assert reasoning == _reasoning(plain.choices[0].message) and content == plain.choices[0].message.content
    assert finish == "stop"
    assert usage.completion_tokens == plain.usage.completion_tokens
    assert usage.completion_tokens_details.reasoning_tokens == plain.usage.completion_tokens_details.reasoning_tokens


def test_async_client_concurrent_requests_are_batched(tiny_url, tiny_engine):
    import openai
    from serve_consts import KEY

    async def main():
        client = openai.AsyncOpenAI(base_url=tiny_url, api_key=KEY, max_retries=0, timeout=120)
        questions = [f"{a}+{b}=?" for a, b in [(12, 7), (30, 4), (5, 66), (21, 21), (9, 90), (45, 3)]]
        calls = [
            client.chat.completions.create(
                model="tiny", messages=[{"role": "user", "content": q}], reasoning_effort="low", temperature=0
            )
            for q in questions
        ]
        before = tiny_engine.batcher.calls
        results = await asyncio.gather(*calls)
        merged = tiny_engine.batcher.calls - before
        stream = await client.chat.completions.create(
            model="tiny", messages=ARITH, stream=True, stream_options={"include_usage": True}
        )
        chunks = [c async for c in stream]
        await client.close()
        return results, merged, chunks

    results, merged, chunks = asyncio.run(main())
    assert all(r.choices[0].message.content for r in results)
    assert merged < len(results)  # concurrent requests shared generator calls
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_completions_endpoint_is_plain_continuation(client, tiny_engine):
    r = client.completions.create(
        model="tiny", prompt=["12+7=?\n", "5*6=?\n"], n=2, max_tokens=40, temperature=0, stop=["\n"], logprobs=1
    )
    assert [c.index for c in r.choices] == [0, 1, 2, 3]
    for c in r.choices:
        assert not c.text.endswith("\n") and c.finish_reason in ("stop", "length")
        assert "".join(c.logprobs.tokens).startswith(c.text)
    kept = client.completions.create(
        model="tiny",
        prompt="12+7=?\n",
        max_tokens=40,
        temperature=0,
        stop=["\n"],
        extra_body={"include_stop_str_in_output": True, "return_token_ids": True},
    )
    c = kept.choices[0]
    assert c.text == r.choices[0].text + "\n" and c.model_extra["stop_reason"] == "\n"
    assert c.model_extra["token_ids"] == tiny_engine.tokens.ids(c.text)
    assert r.usage.completion_tokens > 0 and r.usage.prompt_tokens == tiny_engine.count("12+7=?\n") + tiny_engine.count(
        "5*6=?\n"
    )


def test_models_health_and_metrics(client, tiny_url):
    import httpx
    from serve_consts import KEY

    assert [m.id for m in client.models.list().data] == ["tiny"]
    base = tiny_url.removesuffix("/v1")
    assert httpx.get(f"{base}/health", timeout=10).json()["status"] == "ok"
    text = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {KEY}"}, timeout=10).text
    for needle in (
        'ponder_requests_total{endpoint="chat",status="200"}',
        "ponder_completion_tokens_total",
        "ponder_reasoning_tokens_total",
        'ponder_request_seconds_bucket{endpoint="chat",le="+Inf"}',
        "ponder_queue_depth",
        "ponder_requests_running",
    ):
        assert needle in text


def test_trace_round_trips_to_the_verifier_format(client):
    r = client.chat.completions.create(model="tiny", messages=COUNTDOWN, reasoning_effort="none")
    msg = r.choices[0].message
    trace = f"<think>{_reasoning(msg)}</think>\n<answer>{msg.content}</answer>"
    assert parse_response(trace).answer == msg.content
