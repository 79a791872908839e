"""A Generator over an OpenAI-compatible `/v1/completions` server (vLLM, SGLang, llama.cpp, ...).

One HTTP request per `generate()` call carries every prompt (the server batches them) with n,
temperature, top_p, max_tokens, stop, seed and logprobs; vLLM's extra fields ask for stop
strings in the text (`include_stop_str_in_output`) and for token ids (`return_token_ids`).
Choices come back with `index = prompt_index * n + sample_index`. A server that still leaves the
matched stop string out gets it re-appended, so Completion.text always ends with it, as in the
hf backend. finish_reason: vLLM's `stop_reason` tells a stop string (a str) from EOS (null);
servers without it report both as "stop", which is read as "eos" unless the text ends with a stop.

Left out: the chat endpoint, streaming, retries, parallel requests across servers. `render()` uses
a format string (default "{question}\\n") or, given `tokenizer=`, that tokenizer's chat template.
Token counts need token ids or logprobs from the server; without either token_ids stays empty.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from ponder.types import Completion, PonderError, SamplingParams


class OpenAIGenerator:
    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        n_params: int = 0,
        template: str = "{question}\n",
        tokenizer=None,
        api_key: str | None = None,
        timeout: float = 600.0,
    ):
        self.base_url = base_url.rstrip("/")
        self._model = model
        self.n_params = n_params  # 0 = unknown; FLOP estimates are then 0
        self.template, self.tokenizer = template, tokenizer
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout

    @classmethod
    def from_spec(cls, spec: str, **kwargs) -> OpenAIGenerator:
        """ "http://host:port/v1" (the server's first model) or "openai:MODEL@http://host:port/v1"."""
        model = None
        if spec.startswith("openai:"):
            model, sep, spec = spec[len("openai:") :].partition("@")
            if not sep or not model:
                raise PonderError(f"bad generator spec {spec!r}: use openai:MODEL@http://host:port/v1")
        if not spec.startswith(("http://", "https://")):
            raise PonderError(f"bad server URL {spec!r}: use http://host:port/v1")
        return cls(spec, model=model, **kwargs)

    @property
    def name(self) -> str:
        return f"openai:{self.model}"

    @property
    def model(self) -> str:
        if self._model is None:
            listed = self._request("GET", "/models", None).get("data") or []
            if not listed:
                raise PonderError(f"server {self.base_url} lists no models; name one: openai:MODEL@{self.base_url}")
            self._model = listed[0]["id"]
        return self._model

    def render(self, question: str) -> str:
        if self.tokenizer is not None:
            messages = [{"role": "user", "content": question}]
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return self.template.format(question=question)

    def _request(self, method: str, path: str, body: dict | None) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")[:300]
            raise PonderError(f"{self.base_url}{path} answered {e.code}: {detail}") from e
        except urllib.error.URLError as e:
            raise PonderError(f"cannot reach {self.base_url}{path}: {e.reason}; is the server running?") from e

    def _body(self, prompts: list[str], params: SamplingParams) -> dict:
        body = {
            "model": self.model,
            "prompt": list(prompts),
            "n": params.n,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "include_stop_str_in_output": True,
            "return_token_ids": True,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if params.top_k > 0:
            body["top_k"] = params.top_k
        if params.logprobs:
            body["logprobs"] = 1
        return body

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        if not prompts:
            return []
        reply = self._request("POST", "/completions", self._body(prompts, params))
        choices = reply.get("choices") or []
        if len(choices) != len(prompts) * params.n:
            raise PonderError(
                f"{self.base_url} returned {len(choices)} choices for {len(prompts)} prompts x n={params.n}"
            )
        out: list[list[Completion]] = [[] for _ in prompts]
        for choice in sorted(choices, key=lambda c: c["index"]):
            out[choice["index"] // params.n].append(to_completion(choice, params))
        return out


def _finish(choice: dict, text: str, stops: tuple[str, ...]) -> tuple[str, str]:
    """(text with its stop string, finish_reason) from an OpenAI-style choice."""
    reason, stop_reason = choice.get("finish_reason"), choice.get("stop_reason")
    if reason == "length":
        return text, "length"
    if isinstance(stop_reason, str):
        return (text if text.endswith(stop_reason) else text + stop_reason), "stop"
    if any(text.endswith(s) for s in stops):
        return text, "stop"
    return text, "eos"


def _token_ids(choice: dict, tokens: list[str]) -> list[int]:
    if choice.get("token_ids") is not None:
        return list(choice["token_ids"])
    if tokens and all(t.startswith("token_id:") for t in tokens):
        return [int(t.split(":", 1)[1]) for t in tokens]
    return [-1] * len(tokens)  # counted, ids unknown


def to_completion(choice: dict, params: SamplingParams) -> Completion:
    lp = choice.get("logprobs") or {}
    tokens, token_lps = lp.get("tokens") or [], lp.get("token_logprobs")
    text, reason = _finish(choice, choice.get("text") or "", params.stop)
    prompt_ids = choice.get("prompt_token_ids")
    return Completion(
        text=text,
        token_ids=_token_ids(choice, tokens),
        logprobs=[float(x) for x in token_lps] if params.logprobs and token_lps is not None else None,
        finish_reason=reason,
        prompt_tokens=len(prompt_ids) if prompt_ids else 0,
    )
