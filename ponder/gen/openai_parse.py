"""Turn OpenAI-style choices (from `/v1/completions` or `/v1/chat/completions`, as plain dicts)
into Completions that keep the Generator contract of the hf backend.

- Stop strings: the text ends with the stop string that ended it. vLLM's `stop_reason` names the
  string (and null means EOS); a server that leaves the string out of the text gets it re-appended.
  Servers without `stop_reason` report stop and EOS alike as "stop", read as "eos" unless the text
  ends with one of the call's stop strings.
- Token counts, best source first: the server's token ids (vLLM `return_token_ids`), else the
  larger of the logprob count and `fallback_tokens` (a share of the response's `usage`, which also
  counts a reasoning server's hidden reasoning), counted as ids of -1.
- Logprobs: completions' `token_logprobs` or chat's `content[].logprob`; None when the server
  returned none, the caller did not ask, or they do not cover every counted token.
- Chat text: a reasoning server's `reasoning_content` goes back in front of the answer as
  `<think>…</think>\n`.

Pure functions over dicts; no HTTP here (that is gen/openai.py).
"""

from __future__ import annotations

from ponder.types import Completion, SamplingParams


def finish(choice: dict, text: str, stops: tuple[str, ...]) -> tuple[str, str]:
    """(text ending with its stop string, finish_reason) from an OpenAI-style choice."""
    reason, stop_reason = choice.get("finish_reason"), choice.get("stop_reason")
    if reason == "length":
        return text, "length"
    if isinstance(stop_reason, str):
        return (text if text.endswith(stop_reason) else text + stop_reason), "stop"
    if any(text.endswith(s) for s in stops):
        return text, "stop"
    return text, "eos"


def choice_text(choice: dict) -> str:
    """The generated text of a completions choice (`text`) or a chat choice (`message.content`); a
    reasoning server's separate reasoning (`reasoning_content` / `reasoning`) goes back in front as
    `<think>…</think>`, so the text is the whole response, as from the completions endpoint."""
    if "message" not in choice:
        return choice.get("text") or ""
    message = choice.get("message") or {}
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    content = message.get("content") or ""
    return f"<think>{reasoning}</think>\n{content}" if reasoning else content


def choice_logprobs(choice: dict) -> tuple[list[str], list[float] | None]:
    """(tokens, logprobs) from either endpoint's logprobs block; ([], None) when absent."""
    lp = choice.get("logprobs") or {}
    if "content" in lp:  # chat: [{"token", "logprob", ...}, ...]
        content = lp.get("content") or []
        return [c.get("token", "") for c in content], [float(c["logprob"]) for c in content]
    tokens, values = lp.get("tokens") or [], lp.get("token_logprobs")
    return list(tokens), [float(x) for x in values] if values is not None else None


def token_ids(choice: dict, tokens: list[str], fallback_tokens: int) -> list[int]:
    if choice.get("token_ids") is not None:
        return list(choice["token_ids"])
    if tokens and all(t.startswith("token_id:") for t in tokens):
        return [int(t.split(":", 1)[1]) for t in tokens]
    return [-1] * max(len(tokens), fallback_tokens)  # counted, ids unknown; usage also counts hidden reasoning


def to_completion(choice: dict, params: SamplingParams, prompt_tokens: int = 0, fallback_tokens: int = 0) -> Completion:
    """One choice as a Completion; `prompt_tokens` is used when the choice has no prompt ids."""
    tokens, lps = choice_logprobs(choice)
    text, reason = finish(choice, choice_text(choice), params.stop)
    prompt_ids = choice.get("prompt_token_ids")
    ids = token_ids(choice, tokens, fallback_tokens)
    aligned = lps is not None and len(lps) == len(ids)  # not when the reasoning had no logprobs
    return Completion(
        text=text,
        token_ids=ids,
        logprobs=lps if params.logprobs and aligned else None,
        finish_reason=reason,
        prompt_tokens=len(prompt_ids) if prompt_ids else prompt_tokens,
    )


def split_usage(total: int, texts: list[str]) -> list[int]:
    """Share `total` tokens among texts in proportion to their length (ties to the first ones);
    exact when there is one text. Used only when the server gives no per-choice token count."""
    if not texts:
        return []
    chars = [len(t) for t in texts]
    if sum(chars) == 0:
        return [total // len(texts) + (i < total % len(texts)) for i in range(len(texts))]
    shares = [total * c // sum(chars) for c in chars]
    for i in range(total - sum(shares)):
        shares[i % len(shares)] += 1
    return shares
