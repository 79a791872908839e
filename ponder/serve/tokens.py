"""Token counting for the server's replies, on a private copy of the model's tokenizer.

Request threads count, encode and decode while the batcher's worker encodes prompts with the
generator's own tokenizer; a fast tokenizer used from two threads at once can fail ("Already
borrowed"), so the server works on a deep copy, behind a lock. CharTokens (one token per
character) is for tokenizer-less test generators such as gen.fake.FakeGenerator.
"""

from __future__ import annotations

import copy
import threading

from ponder.types import Generator, PonderError


class Tokens:
    def __init__(self, tokenizer):
        self.tok = copy.deepcopy(tokenizer)
        self._lock = threading.Lock()

    @classmethod
    def of(cls, gen: Generator) -> Tokens:
        tok = getattr(gen, "tokenizer", None)  # hf and vllm backends carry their tokenizer
        if tok is None:
            raise PonderError(f"ponder serve needs a backend with a tokenizer to count tokens; {gen.name} has none")
        return cls(tok)

    def ids(self, text: str) -> list[int]:
        if not text:
            return []
        with self._lock:
            return list(self.tok(text, add_special_tokens=False)["input_ids"])

    def count(self, text: str) -> int:
        return len(self.ids(text))

    def decode(self, token_id: int) -> str:
        if token_id < 0:  # counted, id unknown (a forced tag)
            return ""
        with self._lock:
            return self.tok.decode([token_id])

    def chat(self, messages: list[dict[str, str]]) -> str | None:
        """The chat template applied with the generation prompt; None when the model has none."""
        if not getattr(self.tok, "chat_template", None):
            return None
        with self._lock:
            return self.tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


class CharTokens:
    """One token per character (test generators)."""

    def ids(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def count(self, text: str) -> int:
        return len(text)

    def decode(self, token_id: int) -> str:
        return chr(token_id) if token_id >= 0 else ""

    def chat(self, messages: list[dict[str, str]]) -> str | None:
        return None
