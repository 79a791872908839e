"""Request bodies of /v1/chat/completions and /v1/completions, checked into dataclasses.

Every field is type- and range-checked against the server's Limits; a bad one is an APIError
400 naming the field (`param`), as the OpenAI API does. Unknown fields are ignored, as there.
Chat: `messages` (string content or a list of text parts), `n`, `max_tokens` /
`max_completion_tokens`, `temperature`, `top_p`, `stop`, `seed`, `logprobs`, `stream`,
`stream_options.include_usage`, `reasoning_effort`, and ponder's own `ponder` object
(strategy, budget, scorer, think_tokens, options). Completions: `prompt` (string or list of
strings), the sampling fields, integer `logprobs`, and vLLM's `top_k`,
`include_stop_str_in_output` and `return_token_ids` (what ponder's OpenAI backend sends).
Left out: tools, response_format, images, `echo`, `best_of`, `top_logprobs` > 0, penalties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ponder.search.effort import EFFORT_LEVELS
from ponder.serve.errors import APIError


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 1 << 20
    max_messages: int = 64
    max_prompts: int = 64
    max_n: int = 16
    max_tokens: int = 4096
    max_concurrent: int = 64
    max_queue: int = 256
    max_stop: int = 4


@dataclass
class Sampling:
    n: int = 1
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int = 0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: int | None = None  # chat: 0 when asked for; completions: the integer asked for
    stream: bool = False
    include_usage: bool = False


@dataclass
class ChatRequest:
    model: str
    messages: list[dict[str, str]]
    sampling: Sampling
    effort: str | None = None
    ponder: dict[str, Any] = field(default_factory=dict)


@dataclass
class CompletionRequest:
    model: str
    prompts: list[str]
    sampling: Sampling
    include_stop: bool = False
    return_token_ids: bool = False


def _bad(param: str, message: str) -> APIError:
    return APIError(400, message, param=param, code="invalid_value")


def _int(body: dict, key: str, lo: int, hi: int, default: int | None) -> int | None:
    v = body.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int):
        raise _bad(key, f"{key} must be an integer, got {v!r}")
    if not lo <= v <= hi:
        raise _bad(key, f"{key} must be between {lo} and {hi}, got {v}")
    return v


def _float(body: dict, key: str, lo: float, hi: float, lo_open: bool = False) -> float | None:
    v = body.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _bad(key, f"{key} must be a number, got {v!r}")
    if v > hi or v < lo or (lo_open and v == lo):
        raise _bad(key, f"{key} must be in {'(' if lo_open else '['}{lo}, {hi}], got {v}")
    return float(v)


def _bool(body: dict, key: str) -> bool:
    v = body.get(key, False)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise _bad(key, f"{key} must be true or false, got {v!r}")
    return v


def _stop(body: dict, limits: Limits) -> tuple[str, ...]:
    v = body.get("stop")
    if v is None:
        return ()
    stops = [v] if isinstance(v, str) else v
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise _bad("stop", "stop must be a non-empty string or a list of them")
    if len(stops) > limits.max_stop:
        raise _bad("stop", f"at most {limits.max_stop} stop sequences, got {len(stops)}")
    return tuple(stops)


def _sampling(body: dict, limits: Limits, max_tokens_key: str | None) -> Sampling:
    max_tokens = _int(body, "max_tokens", 1, limits.max_tokens, None)
    if max_tokens_key:
        max_tokens = _int(body, max_tokens_key, 1, limits.max_tokens, max_tokens)
    opts = body.get("stream_options")
    if opts is not None and not isinstance(opts, dict):
        raise _bad("stream_options", "stream_options must be an object")
    stream = _bool(body, "stream")
    if opts and not stream:
        raise _bad("stream_options", "stream_options is only allowed with stream: true")
    return Sampling(
        n=_int(body, "n", 1, limits.max_n, 1),
        max_tokens=max_tokens,
        temperature=_float(body, "temperature", 0.0, 2.0),
        top_p=_float(body, "top_p", 0.0, 1.0, lo_open=True),
        top_k=max(0, _int(body, "top_k", -1, 1 << 20, 0) or 0),
        stop=_stop(body, limits),
        seed=_int(body, "seed", -(1 << 63), (1 << 63) - 1, None),
        stream=stream,
        include_usage=_bool(opts or {}, "include_usage"),
    )


def _model(body: dict) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("model", "model is required: the id GET /v1/models lists")
    return model


def _content(msg: Any, i: int) -> dict[str, str]:
    if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
        raise _bad(f"messages[{i}]", "each message must be an object with a role and content")
    content = msg.get("content")
    if isinstance(content, list):  # text parts
        if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content):
            raise _bad(f"messages[{i}].content", "only text content parts are supported")
        content = "".join(p["text"] for p in content)
    if content is None and msg["role"] == "assistant":
        content = ""
    if not isinstance(content, str):
        raise _bad(f"messages[{i}].content", "content must be a string or a list of text parts")
    return {"role": msg["role"], "content": content}


def _ponder(body: dict) -> dict[str, Any]:
    v = body.get("ponder") or {}
    if not isinstance(v, dict):
        raise _bad("ponder", "ponder must be an object such as {'strategy': 'beam', 'budget': 8}")
    known = {"strategy", "budget", "scorer", "think_tokens", "options"}
    unknown = sorted(set(v) - known)
    if unknown:
        raise _bad("ponder", f"unknown ponder field {unknown[0]!r}; known: {', '.join(sorted(known))}")
    if "strategy" in v and not isinstance(v["strategy"], str):
        raise _bad("ponder.strategy", "ponder.strategy must be a strategy name")
    if "scorer" in v and not isinstance(v["scorer"], str):
        raise _bad("ponder.scorer", "ponder.scorer must be a scorer name")
    for key in ("budget", "think_tokens"):
        _int(v, key, 0 if key == "think_tokens" else 1, 1 << 20, None)
    if not isinstance(v.get("options", {}), dict):
        raise _bad("ponder.options", "ponder.options must be an object of strategy options")
    return dict(v)


def parse_chat(body: dict, limits: Limits) -> ChatRequest:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages", "messages must be a non-empty list")
    if len(messages) > limits.max_messages:
        raise _bad("messages", f"at most {limits.max_messages} messages, got {len(messages)}")
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in EFFORT_LEVELS:
        raise _bad("reasoning_effort", f"reasoning_effort must be one of {', '.join(EFFORT_LEVELS)}, got {effort!r}")
    sampling = _sampling(body, limits, "max_completion_tokens")
    if _bool(body, "logprobs"):
        sampling.logprobs = 0
    if _int(body, "top_logprobs", 0, 20, 0):
        raise _bad("top_logprobs", "top_logprobs > 0 is not supported by ponder serve")
    return ChatRequest(
        model=_model(body),
        messages=[_content(m, i) for i, m in enumerate(messages)],
        sampling=sampling,
        effort=effort,
        ponder=_ponder(body),
    )


def parse_completion(body: dict, limits: Limits) -> CompletionRequest:
    for key in ("reasoning_effort", "ponder"):
        if body.get(key) is not None:
            raise _bad(key, f"{key} applies to /v1/chat/completions; /v1/completions continues text as it is")
    if body.get("echo") or (body.get("best_of") or 1) != 1:
        raise _bad("echo" if body.get("echo") else "best_of", "echo and best_of are not supported")
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) and p for p in prompts):
        raise _bad("prompt", "prompt must be a non-empty string or a list of them (token ids are not supported)")
    if len(prompts) > limits.max_prompts:
        raise _bad("prompt", f"at most {limits.max_prompts} prompts, got {len(prompts)}")
    sampling = _sampling(body, limits, None)
    sampling.max_tokens = sampling.max_tokens or 16  # the API's default for completions
    sampling.logprobs = _int(body, "logprobs", 0, 5, None)
    return CompletionRequest(
        model=_model(body),
        prompts=prompts,
        sampling=sampling,
        include_stop=_bool(body, "include_stop_str_in_output"),
        return_token_ids=_bool(body, "return_token_ids"),
    )
