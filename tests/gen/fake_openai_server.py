"""A tiny OpenAI-compatible server on 127.0.0.1 for tests (stdlib http.server, one thread per
request). It mimics vLLM: stop strings cut the text (kept with include_stop_str_in_output),
`stop_reason` names the stop string (null on EOS), one character per token with code points as
token ids, and choices come back out of order. Knobs on `FakeState`: drop the stop string, fail
the next k requests with 503, sleep per request; every request body and the peak number of
requests in flight are recorded."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCRIPT = {"Q1\n": "<think>1+1=2</think>\nSTEP<answer>2</answer>", "Q2\n": "abc"}


class FakeState:
    def __init__(self):
        self.requests: list[dict] = []
        self.paths: list[str] = []
        self.honour_include_stop = True
        self.fail_next = 0
        self.delay = 0.0
        self.in_flight = 0
        self.peak = 0
        self.lock = threading.Lock()
        self.usage_only = False  # answer without token ids, logprobs or stop_reason (a plain server)


def _cut(full: str, body: dict, state: FakeState) -> tuple[str, str, str | None]:
    text, finish, stop_reason = full, "stop", None
    for s in body.get("stop") or []:
        if s in full:
            i = full.find(s)
            keep = body.get("include_stop_str_in_output") and state.honour_include_stop
            text, stop_reason = full[: i + (len(s) if keep else 0)], s
            break
    if len(text) > body["max_tokens"]:
        text, finish, stop_reason = text[: body["max_tokens"]], "length", None
    return text, finish, stop_reason


def completion_choice(prompt: str, index: int, body: dict, state: FakeState) -> dict:
    text, finish, stop_reason = _cut(SCRIPT.get(prompt, "ok") + f"#{index}", body, state)
    if state.usage_only:
        return {"index": index, "text": text, "finish_reason": finish, "logprobs": None}
    ids = body.get("return_token_ids")
    return {
        "index": index, "text": text, "finish_reason": finish, "stop_reason": stop_reason,
        "token_ids": [ord(c) for c in text] if ids else None,
        "prompt_token_ids": [ord(c) for c in prompt] if ids else None,
        "logprobs": {"tokens": list(text), "token_logprobs": [-0.5] * len(text)} if body.get("logprobs") else None,
    }  # fmt: skip


def chat_choice(messages: list[dict], index: int, body: dict, state: FakeState) -> dict:
    last = messages[-1]["content"]
    full = "<answer>" + last[::-1] + "</answer>" + f"#{index}"
    text, finish, stop_reason = _cut(full, body, state)
    lp = {"content": [{"token": c, "logprob": -0.25} for c in text]} if body.get("logprobs") else None
    return {"index": index, "message": {"role": "assistant", "content": text}, "finish_reason": finish,
            "stop_reason": stop_reason, "logprobs": lp}  # fmt: skip


def make_handler(state: FakeState):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, obj, code=200, headers=()):
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._send({"object": "list", "data": [{"id": "tiny-served", "object": "model", "created": 0,
                                                    "owned_by": "ponder"}]})  # fmt: skip

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.requests.append(body)
                state.paths.append(self.path)
                state.in_flight += 1
                state.peak = max(state.peak, state.in_flight)
                fail = state.fail_next > 0
                state.fail_next -= fail
            try:
                time.sleep(state.delay)
                if fail:
                    return self._send({"error": {"message": "busy"}}, 503, [("retry-after-ms", "10")])
                self._answer(body)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _answer(self, body: dict):
            if body.get("prompt") == ["boom"]:
                return self._send({"error": {"message": "bad prompt"}}, code=400)
            n = body.get("n", 1)
            if self.path.endswith("/chat/completions"):
                choices = [chat_choice(body["messages"], j, body, state) for j in range(n)]
                prompt_len = sum(len(m["content"]) for m in body["messages"])
                gen_len = sum(len(c["message"]["content"]) for c in choices)
                kind = "chat.completion"
            else:
                choices = [completion_choice(p, i * n + j, body, state)
                           for i, p in enumerate(body["prompt"]) for j in range(n)]  # fmt: skip
                prompt_len = sum(len(p) for p in body["prompt"])
                gen_len = sum(len(c["text"]) for c in choices)
                kind = "text_completion"
            usage = {"prompt_tokens": prompt_len, "completion_tokens": gen_len, "total_tokens": prompt_len + gen_len}
            self._send({"id": "x", "object": kind, "created": 0, "model": body["model"],
                        "choices": choices[::-1], "usage": usage})  # fmt: skip

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that gave up (the timeout test) closes its socket before the reply


@contextmanager
def fake_openai_server():
    """Yields (base_url, state); the server is shut down on exit."""
    state = FakeState()
    server = _QuietServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
