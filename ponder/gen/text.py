"""Prompt text and token ids, the same way on every backend that holds a tokenizer (hf, vllm).

Prompts are rendered with the tokenizer's chat template when it has one (else `question\\n`),
encoded without special tokens (the template already put in what the model needs, `<bos>`
included) and decoded keeping special tokens, so prompt + completion re-tokenizes to what the
model saw. A call with max_tokens=0 returns empty completions without touching the model.
"""

from __future__ import annotations

from ponder.types import Completion, SamplingParams


def render_prompt(tokenizer, question: str) -> str:
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": question}]
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return question + "\n"


def encode(tokenizer, texts: list[str]) -> list[list[int]]:
    return tokenizer(list(texts), add_special_tokens=False)["input_ids"] if texts else []


def decode(tokenizer, ids: list[int]) -> str:
    return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def empty_completions(encoded: list[list[int]], params: SamplingParams) -> list[list[Completion]]:
    """params.n empty completions per prompt (max_tokens=0)."""

    def empty(e: list[int]) -> Completion:
        lps = [] if params.logprobs else None
        if not params.token_stats:
            return Completion(text="", prompt_tokens=len(e), logprobs=lps)
        return Completion(text="", prompt_tokens=len(e), logprobs=lps, entropies=[], certainties=[])

    return [[empty(e) for _ in range(params.n)] for e in encoded]
