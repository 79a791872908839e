"""Stop strings as stop token ids, where that is exact: the engine then needs no detokenizer.

vLLM checks stop strings on text it detokenizes incrementally, token by token, in Python; on a
small model that bookkeeping (plus decoding every sampled logprob's token) costs more than the
forward pass. A stop string of ONE character cannot span two tokens, so "a stop string ends in
this token" is the same as "this token's text contains it": stopping on the set of token ids
whose text contains the character ends every row on exactly the token where the text-based check
would. The text is then cut after the stop string by `completion_text`, as on every backend.
Left out: longer stop strings (they can end across a token boundary; the caller falls back to the
engine's text check), and non-ASCII characters on a tokenizer with byte pieces that decode alone
to U+FFFD (two such pieces can join into the character).
"""

from __future__ import annotations

REPLACEMENT = "\ufffd"


def token_pieces(tokenizer) -> list[str]:
    """The text of every token id decoded alone, special tokens kept (index = token id)."""
    size = len(tokenizer)
    return tokenizer.batch_decode([[i] for i in range(size)], skip_special_tokens=False)


def stop_token_ids(pieces: list[str], stops: tuple[str, ...]) -> tuple[int, ...] | None:
    """The ids of the tokens that end a stop string, or None when some stop string cannot be
    matched exactly by token ids (longer than one character, or possibly split across pieces)."""
    if not stops:
        return ()
    if any(len(s) != 1 for s in stops):
        return None
    partial = any(REPLACEMENT in p for p in pieces)
    if partial and any(not s.isascii() for s in stops):
        return None
    return tuple(i for i, p in enumerate(pieces) if any(s in p for s in stops))
