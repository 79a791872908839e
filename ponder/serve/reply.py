"""OpenAI-shaped replies: chat completions (whole and as stream chunks) and text completions.

A returned trace `<think>R</think>\\n<answer>A</answer>` becomes `message.reasoning` (and
`reasoning_content`, for clients that read that name) = R and `content` = A; text after
`</think>` without answer tags is the content as it is. `stop` strings cut the content.
Usage counts the returned traces' tokens: `completion_tokens` (reasoning + answer, all n
choices) of which `completion_tokens_details.reasoning_tokens` up to and including `</think>`.
What the search spent beyond them is in the `ponder` field: strategy, budget, effort, thinking
budget, and its Cost (generated, prompt and scorer tokens, calls, FLOPs, seconds).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ponder.serve.engine import ChatOutput
from ponder.steps import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN
from ponder.types import Completion


@dataclass
class Choice:
    reasoning: str | None
    content: str
    finish_reason: str
    reasoning_tokens: int
    completion_tokens: int


def split_trace(text: str, stops: tuple[str, ...]) -> tuple[str | None, str, str]:
    """(reasoning, content, finish_reason) of a returned trace."""
    reasoning, tail = None, text
    if THINK_CLOSE in text:
        head, tail = text.split(THINK_CLOSE, 1)
        reasoning = head.split(THINK_OPEN, 1)[-1].strip("\n")
    finish = "stop"
    if ANSWER_OPEN in tail:
        body = tail.rsplit(ANSWER_OPEN, 1)[1]
        finish = "stop" if ANSWER_CLOSE in body else "length"
        content = body.split(ANSWER_CLOSE, 1)[0].strip()
    else:
        content = tail.strip()
    cut = [content.find(s) for s in stops if s in content]
    if cut:
        content, finish = content[: min(cut)], "stop"
    return reasoning, content, finish


def chat_choices(out: ChatOutput, stops: tuple[str, ...], count: Callable[[str], int]) -> list[Choice]:
    choices = []
    for text in out.responses:
        reasoning, content, finish = split_trace(text, stops)
        think_end = text.find(THINK_CLOSE)
        r_tokens = count(text[: think_end + len(THINK_CLOSE)]) if think_end >= 0 else 0
        choices.append(Choice(reasoning, content, finish, r_tokens, count(text)))
    return choices


def _ids() -> tuple[str, int]:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())


def chat_usage(out: ChatOutput, choices: list[Choice]) -> dict[str, Any]:
    completion = sum(c.completion_tokens for c in choices)
    return {
        "prompt_tokens": out.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": out.prompt_tokens + completion,
        "completion_tokens_details": {"reasoning_tokens": sum(c.reasoning_tokens for c in choices)},
    }


def ponder_field(out: ChatOutput) -> dict[str, Any]:
    p = out.plan
    return {
        "effort": p.effort,
        "strategy": p.strategy,
        "budget": p.budget,
        "scorer": p.scorer,
        "think_tokens": p.think_tokens,
        "cost": out.cost.to_dict(),
    }


def chat_body(
    out: ChatOutput, choices: list[Choice], model: str, logprobs: list[list[tuple[str, float]]] | None
) -> dict[str, Any]:
    rid, created = _ids()
    items = []
    for i, c in enumerate(choices):
        msg = {"role": "assistant", "content": c.content, "reasoning": c.reasoning, "reasoning_content": c.reasoning}
        item: dict[str, Any] = {"index": i, "message": msg, "finish_reason": c.finish_reason, "logprobs": None}
        if logprobs is not None:
            item["logprobs"] = {"content": [_lp_entry(t, lp) for t, lp in logprobs[i]], "refusal": None}
        items.append(item)
    return {
        "id": rid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": items,
        "usage": chat_usage(out, choices),
        "ponder": ponder_field(out),
    }


def _lp_entry(token: str, lp: float) -> dict[str, Any]:
    return {"token": token, "logprob": lp, "bytes": list(token.encode()), "top_logprobs": []}


def _lines(text: str) -> list[str]:
    """Stream pieces: one step (line) of the reasoning at a time, newline kept."""
    return text.splitlines(keepends=True) or [text]


def chat_chunks(out: ChatOutput, choices: list[Choice], model: str, include_usage: bool) -> Iterator[dict[str, Any]]:
    """Reasoning deltas (a step each), then content, then the finish chunk; usage last if asked."""
    rid, created = _ids()

    def chunk(i: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        body = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model}
        body["choices"] = [{"index": i, "delta": delta, "finish_reason": finish, "logprobs": None}]
        if include_usage:
            body["usage"] = None
        return body

    for i, c in enumerate(choices):
        yield chunk(i, {"role": "assistant", "content": ""})
        for piece in _lines(c.reasoning or ""):
            if piece:
                yield chunk(i, {"reasoning": piece, "reasoning_content": piece})
        if c.content:
            yield chunk(i, {"content": c.content})
        yield chunk(i, {}, c.finish_reason)
    if include_usage:
        body = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model, "choices": []}
        body["usage"] = chat_usage(out, choices)
        body["ponder"] = ponder_field(out)
        yield body


def completion_choice(
    c: Completion, index: int, stops: tuple[str, ...], include_stop: bool, want_ids: bool, decode: Callable[[int], str]
) -> dict[str, Any]:
    text, stop_reason = c.text, None
    if c.finish_reason == "stop":
        stop_reason = next((s for s in stops if text.endswith(s)), None)
        if stop_reason is not None and not include_stop:
            text = text[: -len(stop_reason)]
    item: dict[str, Any] = {
        "index": index,
        "text": text,
        "finish_reason": "length" if c.finish_reason == "length" else "stop",
        "stop_reason": stop_reason,
        "logprobs": None,
    }
    if c.logprobs is not None:
        tokens = [decode(t) for t in c.token_ids]
        offsets, pos = [], 0
        for t in tokens:
            offsets.append(pos)
            pos += len(t)
        item["logprobs"] = {
            "tokens": tokens,
            "token_logprobs": c.logprobs,
            "top_logprobs": None,
            "text_offset": offsets,
        }
    if want_ids:
        item["token_ids"] = list(c.token_ids)
    return item


def completion_body(choices: list[dict[str, Any]], model: str, prompt_tokens: int, completion_tokens: int) -> dict:
    rid, created = _ids()
    return {
        "id": rid.replace("chatcmpl", "cmpl"),
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
