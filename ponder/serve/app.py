"""The ASGI app (Starlette): routes, auth, limits, admission, streaming and metrics.

Every request under /v1 and /metrics needs `Authorization: Bearer KEY` when the server has an
API key (401 otherwise; /health stays open). A body over `max_body_bytes` is a 413, bad JSON a
400; field limits are checked in schema.py. At most `max_concurrent` requests run at once and
at most `max_queue` more wait for a slot; the next one gets a 429. The model work runs in a
thread per running request (all of them feeding the one batcher); while it runs the client's
connection is watched, and a client that goes away sets the request's cancel flag (the search
stops at its next generator call) and frees its slot at once. Any other failure is a 500 in the
OpenAI error shape, logged; the server keeps serving.

Streaming (chat): the search runs to the end first (a strategy only knows its chosen trace when
it is done), then the chosen trace is sent as reasoning deltas of one step each, the content,
a finish chunk and, with `stream_options.include_usage`, a usage chunk; then `data: [DONE]`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from ponder.serve import reply
from ponder.serve.engine import Cancelled, ServeEngine
from ponder.serve.errors import APIError
from ponder.serve.metrics import Metrics
from ponder.serve.schema import Limits, parse_chat, parse_completion

log = logging.getLogger(__name__)


class Admission:
    """Slots for running requests and a bounded line for those waiting."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.running = 0
        self.waiting = 0
        self._sem = asyncio.Semaphore(limits.max_concurrent)

    async def enter(self) -> None:
        if self._sem.locked() and self.waiting >= self.limits.max_queue:
            raise APIError(
                429, f"server busy: {self.running} requests running and {self.waiting} waiting", code="queue_full"
            )
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        self.running += 1

    def leave(self) -> None:
        self.running -= 1
        self._sem.release()


class Server:
    def __init__(self, engine: ServeEngine, limits: Limits, api_key: str | None = None):
        self.engine, self.limits, self.api_key = engine, limits, api_key
        self.metrics = Metrics()
        self.admission: Admission | None = None  # made inside the event loop
        self.limiter = anyio.CapacityLimiter(limits.max_concurrent)
        m = self.metrics
        m.gauge("requests_running", lambda: self.admission.running if self.admission else 0, "requests being served")
        m.gauge("queue_depth", lambda: self.admission.waiting if self.admission else 0, "requests waiting for a slot")
        m.gauge("batcher_pending", lambda: engine.batcher.pending, "generator calls queued for the next batch")
        m.gauge("generator_calls", lambda: engine.batcher.calls, "generator calls made (merged)")
        m.gauge("generator_prompts", lambda: engine.batcher.prompts, "prompts sent in those calls")

    def check_auth(self, request: Request) -> None:
        if not self.api_key or request.url.path == "/health":
            return
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(token.encode(), self.api_key.encode()):
            raise APIError(401, "missing or wrong API key: send Authorization: Bearer KEY", code="invalid_api_key")

    async def read_json(self, request: Request) -> dict[str, Any]:
        limit = self.limits.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise APIError(413, f"request body over {limit} bytes", code="body_too_large")
        body = bytearray()
        async for part in request.stream():
            body += part
            if len(body) > limit:
                raise APIError(413, f"request body over {limit} bytes", code="body_too_large")
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise APIError(400, f"request body is not valid JSON: {e}", code="invalid_json") from None
        if not isinstance(data, dict):
            raise APIError(400, "request body must be a JSON object", code="invalid_json")
        return data

    async def run_watched(self, request: Request, fn: Callable[[], Any], cancel: threading.Event) -> Any:
        """fn() in a worker thread; if the client disconnects meanwhile, cancel and give up."""
        task = asyncio.ensure_future(anyio.to_thread.run_sync(fn, limiter=self.limiter))
        while True:
            done, _ = await asyncio.wait({task}, timeout=0.2)
            if done:
                return task.result()
            if await request.is_disconnected():
                cancel.set()
                raise Cancelled()


class SlotStream(StreamingResponse):
    """A streamed response that frees its request's slot and cancels its search when it ends,
    however it ends (finished, client gone, or never started because the client left first)."""

    def __init__(self, content, release: Callable[[], None], cancel: threading.Event, **kwargs):
        super().__init__(content, **kwargs)
        self._release, self._cancel = release, cancel

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._cancel.set()
            self._release()


def _error(e: APIError) -> JSONResponse:
    return JSONResponse(e.body(), status_code=e.status)


def _sse(data: Any) -> bytes:
    return f"data: {json.dumps(data) if not isinstance(data, str) else data}\n\n".encode()


def build_app(engine: ServeEngine, limits: Limits | None = None, api_key: str | None = None) -> Starlette:
    srv = Server(engine, limits or Limits(), api_key)

    def endpoint(name: str, handler: Callable[[Request], Any], admit: bool = True) -> Callable:
        async def wrapped(request: Request) -> Response:
            t0 = time.perf_counter()
            entered = False
            try:
                srv.check_auth(request)
                if admit:
                    if srv.admission is None:
                        srv.admission = Admission(srv.limits)
                    body = await srv.read_json(request)
                    await srv.admission.enter()
                    entered = True
                    response = await handler(request, body)
                    if isinstance(response, SlotStream):
                        entered = False  # the stream frees its own slot
                else:
                    response = await handler(request)
            except APIError as e:
                response = _error(e)
            except Cancelled:
                response = Response(status_code=499)
            except Exception:
                log.exception("request to %s failed", name)
                response = _error(APIError(500, "internal error while serving the request; see the server log"))
            finally:
                if entered:
                    srv.admission.leave()
            status = str(response.status_code)
            srv.metrics.inc("requests_total", endpoint=name, status=status)
            if response.status_code >= 400:
                srv.metrics.inc("errors_total", status=status)
            srv.metrics.observe(time.perf_counter() - t0, endpoint=name)
            return response

        return wrapped

    async def chat(request: Request, body: dict) -> Response:
        req = parse_chat(body, srv.limits)
        cancel = threading.Event()
        if req.sampling.stream:
            body = _chat_stream(srv, request, req, cancel)
            return SlotStream(body, srv.admission.leave, cancel, media_type="text/event-stream")
        out, choices, lps = await srv.run_watched(request, lambda: _chat_work(srv.engine, req, cancel), cancel)
        _count_tokens(srv, out, choices)
        return JSONResponse(reply.chat_body(out, choices, engine.model_id, lps))

    async def completions(request: Request, body: dict) -> Response:
        req = parse_completion(body, srv.limits)
        cancel = threading.Event()
        outs = await srv.run_watched(request, lambda: engine.complete(req), cancel)
        items = [
            reply.completion_choice(
                c,
                i * req.sampling.n + j,
                req.sampling.stop,
                req.include_stop,
                req.return_token_ids,
                engine.tokens.decode,
            )
            for i, group in enumerate(outs)
            for j, c in enumerate(group)
        ]
        prompt_ids = [engine.tokens.ids(p) for p in req.prompts]
        for i, item in enumerate(items):
            item["prompt_token_ids"] = prompt_ids[i // req.sampling.n] if req.return_token_ids else None
        gen_tokens = sum(len(c.token_ids) for g in outs for c in g)
        srv.metrics.inc("completion_tokens_total", gen_tokens)
        srv.metrics.inc("prompt_tokens_total", sum(len(p) for p in prompt_ids))
        return JSONResponse(reply.completion_body(items, engine.model_id, sum(len(p) for p in prompt_ids), gen_tokens))

    async def models(request: Request) -> Response:
        card = {"id": engine.model_id, "object": "model", "created": 0, "owned_by": "ponder"}
        return JSONResponse({"object": "list", "data": [card]})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "model": engine.model_id})

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(srv.metrics.render(), media_type="text/plain; version=0.0.4")

    routes = [
        Route("/v1/chat/completions", endpoint("chat", chat), methods=["POST"]),
        Route("/v1/completions", endpoint("completions", completions), methods=["POST"]),
        Route("/v1/models", endpoint("models", models, admit=False), methods=["GET"]),
        Route("/health", endpoint("health", health, admit=False), methods=["GET"]),
        Route("/metrics", endpoint("metrics", metrics, admit=False), methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.server = srv
    return app


def _chat_work(engine: ServeEngine, req, cancel: threading.Event):
    out = engine.chat(req, cancel)
    choices = reply.chat_choices(out, req.sampling.stop, engine.count)
    lps = None
    if req.sampling.logprobs is not None:
        lps = []
        for text, c in zip(out.responses, choices):
            at = text.rfind(c.content) if c.content else len(text)
            lps.append(engine.content_logprobs(out.prompt + text[:at], c.content))
    return out, choices, lps


def _count_tokens(srv: Server, out, choices) -> None:
    srv.metrics.inc("prompt_tokens_total", out.prompt_tokens)
    srv.metrics.inc("completion_tokens_total", sum(c.completion_tokens for c in choices))
    srv.metrics.inc("reasoning_tokens_total", sum(c.reasoning_tokens for c in choices))
    srv.metrics.inc("search_tokens_total", out.cost.generated_tokens)


async def _chat_stream(srv: Server, request: Request, req, cancel: threading.Event) -> AsyncIterator[bytes]:
    """The SSE body (its SlotStream frees the admission slot when the response ends)."""
    try:
        try:
            out, choices, _ = await srv.run_watched(request, lambda: _chat_work(srv.engine, req, cancel), cancel)
        except APIError as e:
            yield _sse(e.body())
            return
        _count_tokens(srv, out, choices)
        for chunk in reply.chat_chunks(out, choices, srv.engine.model_id, req.sampling.include_usage):
            yield _sse(chunk)
        yield _sse("[DONE]")
    except Cancelled:
        return
    except Exception:  # headers are sent: report in the stream, keep serving
        log.exception("streamed request failed")
        yield _sse(APIError(500, "internal error while serving the request; see the server log").body())
    finally:
        cancel.set()
