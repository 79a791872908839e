"""A Generator over an OpenAI-compatible server (vLLM, SGLang, llama.cpp, `ponder serve`, the
OpenAI API) through the official `openai` client (`pip install 'ponder[openai]'`).

Endpoints:
- "completions" (default): prompts are text. `render()` applies a local tokenizer's chat template
  when given `tokenizer=`, else a format string (default "{question}\\n"). Prompts go out in
  requests of `batch_size` prompts with n samples each.
- "chat": `render()` remembers the messages behind the prompt string it returns; a prompt that
  extends a rendered one (earlier steps of a search) sends the extension as a final assistant
  message to be continued (vLLM's `continue_final_message`). One request per prompt.

Requests run on `concurrency` threads; the Generator API stays synchronous. Retries are the
client's own (exponential backoff with jitter on connection errors, 408/409/429/5xx, `max_retries`);
the connection must open within `connect_timeout` seconds and a request finish within `timeout`.
A seeded call goes out one prompt per request, each with its prompt's seed
(SamplingParams.prompt_seeds): what that buys is the server's promise (vLLM: a seeded request
draws from its own generator; the OpenAI API: best effort).
An unreachable server or an HTTP error is one PonderError line. Per-call `stop`, `seed`, `top_p`,
`logprobs` and (vLLM's extra fields, `vllm_extras=True`) `top_k`, `include_stop_str_in_output`
and `return_token_ids` are sent; openai_parse.py reads the choices back.

FLOPs: `n_params` is what the user gives (`--model-params 7B`); without it it is None and every
cost reports its FLOPs as unknown (None), never 0.
Left out: streaming, tool calls, load-balancing across servers (put a router in front).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ponder.gen.openai_parse import split_usage, to_completion
from ponder.types import Completion, PonderError, SamplingParams

ENDPOINTS = ("completions", "chat")
_HINT = "start it (`ponder serve`, `vllm serve MODEL`) or fix the URL given to --model"


class OpenAIGenerator:
    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        n_params: int | None = None,
        *,
        endpoint: str = "completions",
        template: str = "{question}\n",
        tokenizer=None,
        api_key: str | None = None,
        timeout: float = 600.0,
        connect_timeout: float = 5.0,
        max_retries: int = 2,
        concurrency: int = 8,
        batch_size: int = 16,
        vllm_extras: bool = True,
    ):
        if endpoint not in ENDPOINTS:
            raise PonderError(f"unknown endpoint {endpoint!r}; choose one of {', '.join(ENDPOINTS)}")
        if concurrency < 1 or batch_size < 1:
            raise PonderError("concurrency and batch_size must be >= 1")
        self.base_url = base_url.rstrip("/")
        self._model = model
        self.n_params = n_params  # None = unknown: FLOPs are then reported as unknown
        self.endpoint, self.template, self.tokenizer = endpoint, template, tokenizer
        self.concurrency, self.batch_size, self.vllm_extras = concurrency, batch_size, vllm_extras
        self._client_args = dict(
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "none",
            timeout=(timeout, connect_timeout),
            max_retries=max_retries,
        )
        self._client = None
        self._chats: dict[str, list[dict[str, str]]] = {}

    @classmethod
    def from_spec(cls, spec: str, **kwargs) -> OpenAIGenerator:
        """ "http://host:port/v1" (the server's first model) or "openai:MODEL@http://host:port/v1";
        a "chat+" in front ("chat+http://...") uses the chat endpoint."""
        model = None
        if spec.startswith("chat+"):
            spec, kwargs = spec[len("chat+") :], {"endpoint": "chat", **kwargs}
        if spec.startswith("openai:"):
            model, sep, spec = spec[len("openai:") :].partition("@")
            if not sep or not model:
                raise PonderError(f"bad generator spec {spec!r}: use openai:MODEL@http://host:port/v1")
        if not spec.startswith(("http://", "https://")):
            raise PonderError(f"bad server URL {spec!r}: use http://host:port/v1")
        return cls(spec, model=model, **kwargs)

    @property
    def client(self):
        if self._client is None:
            try:
                import openai
            except ImportError:
                raise PonderError("the openai backend needs the openai client: pip install 'ponder[openai]'") from None
            total, connect = self._client_args["timeout"]
            args = {**self._client_args, "timeout": openai.Timeout(total, connect=connect)}
            self._client = openai.OpenAI(base_url=self.base_url, **args)
        return self._client

    @property
    def name(self) -> str:
        return f"openai:{self.model}"

    @property
    def model(self) -> str:
        if self._model is None:
            listed = self._call(lambda: self.client.models.list().data)
            if not listed:
                raise PonderError(f"server {self.base_url} lists no models; name one: openai:MODEL@{self.base_url}")
            self._model = listed[0].id
        return self._model

    def _call(self, fn):
        """Run one client call; connection failures and HTTP errors become one PonderError line."""
        import openai

        try:
            return fn()
        except openai.APIConnectionError as e:  # includes timeouts, after the client's retries
            why = "timed out" if isinstance(e, openai.APITimeoutError) else "connection failed"
            raise PonderError(f"cannot reach the server at {self.base_url} ({why}); {_HINT}") from None
        except openai.APIStatusError as e:
            raise PonderError(f"{self.base_url} answered {e.status_code}: {str(e.message)[:300]}") from None

    def render(self, question: str) -> str:
        return self.render_messages([{"role": "user", "content": question}])

    def render_messages(self, messages: list[dict[str, str]]) -> str:
        """The prompt string for a conversation (system/user messages, as a prompt format builds them)."""
        if self.endpoint == "chat":
            text = "\n\n".join(m["content"] for m in messages)
            self._chats[text] = [dict(m) for m in messages]
            return text
        if self.tokenizer is not None:
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        system = "".join(m["content"] + "\n\n" for m in messages if m["role"] == "system")
        return system + self.template.format(question=messages[-1]["content"])

    def _sampling(self, params: SamplingParams) -> dict[str, Any]:
        args: dict[str, Any] = {"n": params.n, "temperature": params.temperature, "top_p": params.top_p,
                                "max_tokens": params.max_tokens}  # fmt: skip
        if params.stop:
            args["stop"] = list(params.stop)
        if params.seed is not None:
            args["seed"] = params.prompt_seeds(1)[0]  # a call here holds one prompt (see generate)
        extra: dict[str, Any] = {}
        if self.vllm_extras:
            extra = {"include_stop_str_in_output": True, "return_token_ids": True}
            if params.top_k > 0:
                extra["top_k"] = params.top_k
        return args | {"extra_body": extra}

    def _complete(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        args = self._sampling(params)
        if params.logprobs:
            args["logprobs"] = 1
        reply = self._call(lambda: self.client.completions.create(model=self.model, prompt=prompts, **args))
        choices = [c.model_dump() for c in reply.choices]
        if len(choices) != len(prompts) * params.n:
            raise PonderError(
                f"{self.base_url} returned {len(choices)} choices for {len(prompts)} prompts x n={params.n}"
            )
        choices.sort(key=lambda c: c["index"])
        usage = reply.usage
        prompt_share = split_usage(usage.prompt_tokens if usage else 0, prompts)
        gen_share = split_usage(usage.completion_tokens if usage else 0, [c.get("text") or "" for c in choices])
        out: list[list[Completion]] = [[] for _ in prompts]
        for c, fallback in zip(choices, gen_share):
            i = c["index"] // params.n
            out[i].append(to_completion(c, params, prompt_tokens=prompt_share[i], fallback_tokens=fallback))
        return out

    def _messages(self, prompt: str) -> tuple[list[dict[str, str]], str]:
        """(messages, partial assistant text) behind a prompt; an unknown prompt is one user message."""
        if prompt in self._chats:
            return self._chats[prompt], ""
        for head in sorted((h for h in self._chats if prompt.startswith(h)), key=len, reverse=True)[:1]:
            return self._chats[head], prompt[len(head) :]
        return [{"role": "user", "content": prompt}], ""

    def _chat(self, prompt: str, params: SamplingParams) -> list[Completion]:
        messages, partial = self._messages(prompt)
        args = self._sampling(params)
        if params.logprobs:
            args["logprobs"] = True
        if partial:
            messages = [*messages, {"role": "assistant", "content": partial}]
            args["extra_body"] |= {"continue_final_message": True, "add_generation_prompt": False}
        reply = self._call(lambda: self.client.chat.completions.create(model=self.model, messages=messages, **args))
        choices = sorted((c.model_dump() for c in reply.choices), key=lambda c: c["index"])
        usage = reply.usage
        texts = [(c.get("message") or {}).get("content") or "" for c in choices]
        gen_share = split_usage(usage.completion_tokens if usage else 0, texts)
        prompt_tokens = usage.prompt_tokens if usage else 0
        return [to_completion(c, params, prompt_tokens, fallback) for c, fallback in zip(choices, gen_share)]

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        """params.n completions per prompt, in prompt order, from up to `concurrency` requests at once.
        A seeded call sends one request per prompt, each with its prompt's seed."""
        if not prompts:
            return []
        self.model  # noqa: B018 -- resolve the model name once, before the threads start
        size = 1 if params.seed is not None or self.endpoint == "chat" else self.batch_size
        starts = range(0, len(prompts), size)
        calls = [
            (prompts[i : i + size], params.for_prompts(len(prompts), range(i, min(i + size, len(prompts)))))
            for i in starts
        ]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            if self.endpoint == "chat":
                return list(pool.map(lambda c: self._chat(c[0][0], c[1]), calls))
            return [group for part in pool.map(lambda c: self._complete(*c), calls) for group in part]
