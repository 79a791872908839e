"""OpenAIGenerator against a fake OpenAI-compatible server on 127.0.0.1 (stdlib http.server)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ponder.gen import load_generator
from ponder.gen.openai import OpenAIGenerator
from ponder.types import PonderError, SamplingParams

SCRIPT = {"Q1\n": "<think>1+1=2</think>\nSTEP<answer>2</answer>", "Q2\n": "abc"}


def fake_choice(prompt: str, index: int, body: dict) -> dict:
    """Mimics vLLM: stop strings cut the text (kept only if include_stop_str_in_output), stop_reason
    names the stop string, null on EOS; one char per token, token ids are code points."""
    full = SCRIPT[prompt] + f"#{index}"
    text, finish, stop_reason = full, "stop", None
    for s in body.get("stop", []):
        if s in full:
            i = full.find(s)
            text, stop_reason = full[: i + (len(s) if body.get("include_stop_str_in_output") else 0)], s
            break
    if len(text) > body["max_tokens"]:
        text, finish, stop_reason = text[: body["max_tokens"]], "length", None
    toks = list(text)
    return {
        "index": index,
        "text": text,
        "finish_reason": finish,
        "stop_reason": stop_reason,
        "token_ids": [ord(c) for c in toks] if body.get("return_token_ids") else None,
        "prompt_token_ids": [ord(c) for c in prompt] if body.get("return_token_ids") else None,
        "logprobs": {"tokens": toks, "token_logprobs": [-0.5] * len(toks)} if body.get("logprobs") else None,
    }


class Handler(BaseHTTPRequestHandler):
    requests: list = []
    honour_include_stop = True

    def log_message(self, *args):
        pass

    def _send(self, obj, code=200):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._send({"data": [{"id": "tiny-served"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.requests.append(body)
        if not Handler.honour_include_stop:
            body = {**body, "include_stop_str_in_output": False}
        if body["prompt"] == ["boom"]:
            return self._send({"error": "bad prompt"}, code=400)
        choices = []
        for p_i, prompt in enumerate(body["prompt"]):
            for j in range(body["n"]):
                choices.append(fake_choice(prompt, p_i * body["n"] + j, body))
        self._send({"choices": choices[::-1]})  # out of order on purpose


@pytest.fixture(scope="module")
def url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_completions_grouped_per_prompt_with_stop_and_logprobs(url):
    gen = load_generator(url)
    assert gen.name == "openai:tiny-served"
    out = gen.generate(["Q1\n", "Q2\n"], SamplingParams(n=2, temperature=0.7, stop=("</think>",), seed=3))
    body = Handler.requests[-1]
    assert body["n"] == 2 and body["stop"] == ["</think>"] and body["seed"] == 3 and body["model"] == "tiny-served"
    assert [c.text for c in out[0]] == ["<think>1+1=2</think>"] * 2
    assert [c.finish_reason for c in out[0]] == ["stop", "stop"]
    assert [c.text for c in out[1]] == ["abc#2", "abc#3"]
    assert [c.finish_reason for c in out[1]] == ["eos", "eos"]
    assert out[1][0].token_ids == [ord(c) for c in "abc#2"] and out[1][0].logprobs == [-0.5] * 5
    assert out[0][0].prompt_tokens == 3


def test_stop_string_reappended_when_server_drops_it(url):
    gen = OpenAIGenerator.from_spec(f"openai:tiny-served@{url}", n_params=123)
    Handler.honour_include_stop = False
    try:
        out = gen.generate(["Q1\n"], SamplingParams(stop=("STEP",), logprobs=False))
    finally:
        Handler.honour_include_stop = True
    assert out[0][0].text == "<think>1+1=2</think>\nSTEP" and out[0][0].finish_reason == "stop"
    assert out[0][0].logprobs is None and gen.n_params == 123


def test_length_and_errors(url):
    gen = OpenAIGenerator(url, model="tiny-served")
    out = gen.generate(["Q2\n"], SamplingParams(max_tokens=2))
    assert out[0][0].text == "ab" and out[0][0].finish_reason == "length"
    with pytest.raises(PonderError, match="400"):
        gen.generate(["boom"], SamplingParams())
    with pytest.raises(PonderError, match="openai:MODEL@"):
        OpenAIGenerator.from_spec("openai:@nowhere")
    with pytest.raises(PonderError, match="cannot reach"):
        OpenAIGenerator("http://127.0.0.1:9/v1", model="m", timeout=2).generate(["x"], SamplingParams())
