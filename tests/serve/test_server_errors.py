"""Every refusal has its status and OpenAI-style error JSON, and the server answers the next
request after each one: auth, bad JSON, bad fields, limits, a full queue, a model failure, and a
client that walks away mid-stream."""

from __future__ import annotations

import json
import threading
import time

import httpx
import openai
import pytest
from serve_consts import KEY, LIMITS

GOOD = {"model": "tiny", "messages": [{"role": "user", "content": "12+7=?"}], "reasoning_effort": "none"}


def _post(url: str, body, key: str | None = KEY, path: str = "/chat/completions", raw: bytes | None = None):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(url + path, content=data, headers=headers, timeout=60)


def _still_serves(url: str) -> None:
    r = _post(url, GOOD)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"]


BAD_BODIES = [
    ({**GOOD, "reasoning_effort": "extreme"}, 400, "reasoning_effort"),
    ({**GOOD, "n": LIMITS.max_n + 1}, 400, "n"),
    ({**GOOD, "max_tokens": LIMITS.max_tokens + 1}, 400, "max_tokens"),
    ({**GOOD, "max_completion_tokens": 0}, 400, "max_completion_tokens"),
    ({**GOOD, "messages": GOOD["messages"] * (LIMITS.max_messages + 1)}, 400, "messages"),
    ({**GOOD, "messages": []}, 400, "messages"),
    ({**GOOD, "messages": [{"role": "user", "content": 5}]}, 400, "messages[0].content"),
    ({**GOOD, "temperature": 3}, 400, "temperature"),
    ({**GOOD, "top_p": 0}, 400, "top_p"),
    ({**GOOD, "stop": ["a", "b", "c", "d", "e"]}, 400, "stop"),
    ({**GOOD, "n": "2"}, 400, "n"),
    ({**GOOD, "top_logprobs": 3}, 400, "top_logprobs"),
    ({**GOOD, "stream_options": {"include_usage": True}}, 400, "stream_options"),
    ({**GOOD, "ponder": {"strategy": "telepathy"}}, 400, "ponder"),
    ({**GOOD, "ponder": {"strategy": "beam", "budget": 0}}, 400, "budget"),
    ({**GOOD, "ponder": {"strategy": "beam", "options": {"widht": 2}}}, 400, "ponder"),
    ({**GOOD, "ponder": {"scorer": "vibes"}}, 400, "ponder"),
    ({**GOOD, "ponder": {"colour": "red"}}, 400, "ponder"),
    ({**GOOD, "model": "gpt-9"}, 404, "model"),
    ({k: v for k, v in GOOD.items() if k != "model"}, 400, "model"),
    ([1, 2, 3], 400, None),
]


@pytest.mark.parametrize("body,status,param", BAD_BODIES)
def test_bad_chat_bodies_are_refused_in_openai_shape(tiny_url, body, status, param):
    r = _post(tiny_url, body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["message"] and err["type"] in ("invalid_request_error",)
    if param is not None and status == 400 and param not in ("budget",):
        assert err["param"] == param
    _still_serves(tiny_url)


def test_openai_client_raises_its_typed_errors(client, tiny_url):
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="tiny", messages=GOOD["messages"], reasoning_effort="extreme")
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=GOOD["messages"])
    bad = openai.OpenAI(base_url=tiny_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="tiny", messages=GOOD["messages"])
    _still_serves(tiny_url)


@pytest.mark.parametrize("key", [None, "wrong"])
def test_missing_or_wrong_key_is_401(tiny_url, key):
    r = _post(tiny_url, GOOD, key=key)
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    assert httpx.get(tiny_url.removesuffix("/v1") + "/health", timeout=10).status_code == 200
    _still_serves(tiny_url)


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b'{"model": "tiny",'])
def test_malformed_json_is_400(tiny_url, raw):
    r = _post(tiny_url, None, raw=raw)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    _still_serves(tiny_url)


def test_oversized_body_is_413(tiny_url):
    big = {**GOOD, "messages": [{"role": "user", "content": "x" * (LIMITS.max_body_bytes + 10)}]}
    r = _post(tiny_url, big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"
    _still_serves(tiny_url)


def test_completions_refuses_effort_and_bad_prompts(tiny_url):
    base = {"model": "tiny", "prompt": "12+7=?\n", "max_tokens": 5}
    for body, param in [
        ({**base, "reasoning_effort": "high"}, "reasoning_effort"),
        ({**base, "prompt": []}, "prompt"),
        ({**base, "prompt": [1, 2]}, "prompt"),
        ({**base, "prompt": ["a"] * (LIMITS.max_prompts + 1)}, "prompt"),
        ({**base, "logprobs": 9}, "logprobs"),
        ({**base, "echo": True}, "echo"),
    ]:
        r = _post(tiny_url, body, path="/completions")
        assert r.status_code == 400 and r.json()["error"]["param"] == param, r.text
    assert _post(tiny_url, base, path="/completions").status_code == 200


def test_full_queue_is_429_and_the_slot_comes_back(slow_server):
    url, engine = slow_server(delay=2.0)
    body = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
    first: dict = {}
    t = threading.Thread(target=lambda: first.update(r=_post(url, body, key=None)))
    t.start()
    deadline = time.monotonic() + 20
    while engine.gen.started == 0 and time.monotonic() < deadline:  # not a fixed sleep: slow under load
        time.sleep(0.02)
    assert engine.gen.started == 1  # the first request holds the only slot; the queue holds none
    r = _post(url, body, key=None)
    assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limit_error"
    t.join(timeout=30)
    assert first["r"].status_code == 200
    assert _post(url, body, key=None).status_code == 200


def test_model_failure_is_500_and_the_server_keeps_serving(slow_server):
    url, _ = slow_server(delay=0.0)
    r = _post(url, {"model": "fake", "messages": [{"role": "user", "content": "boom"}]}, key=None)
    assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
    ok = _post(url, {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}, key=None)
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"] == "5"


def test_client_that_leaves_mid_stream_frees_its_slot_and_stops_the_search(slow_server):
    url, engine = slow_server(delay=0.5)
    fake = engine.gen
    body = {"model": "fake", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    body["ponder"] = {"strategy": "refine", "budget": 10, "options": {"critic": "self"}}  # 10 calls, ~5 s
    with httpx.Client(timeout=30) as c, c.stream("POST", url + "/chat/completions", json=body) as resp:
        assert resp.status_code == 200
        time.sleep(0.3)  # leave while the search runs
    left = time.monotonic()
    while True:  # the server polls the connection every 0.2 s
        r = _post(url, {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}, key=None)
        if r.status_code != 429 or time.monotonic() - left > 20:
            break
        time.sleep(0.1)
    assert r.status_code == 200
    assert time.monotonic() - left < 3.0, "the slot was held until the search ended"
    calls = len(fake.calls)
    time.sleep(1.5)
    assert len(fake.calls) == calls < 10, "the abandoned search kept generating"
    metrics = httpx.get(url.removesuffix("/v1") + "/metrics", timeout=10).text
    assert "ponder_requests_running 0" in metrics and "ponder_queue_depth 0" in metrics
