"""Stop strings over token streams: which rows may have just completed one, and where to cut.

A stop string can end inside a multi-character token, so the check decodes a short tail of the
row's generated tokens and asks whether an occurrence ends within the last token's characters.
To keep this off the hot path, only rows whose new token can end a stop string are checked: a
lookup table over the vocabulary marks tokens whose text contains the last character of some
stop string (or decodes to a partial character, which could complete one).
Stop strings are matched in the generated text only, never across the prompt boundary (as vLLM).
"""

from __future__ import annotations

import torch


def cut_at_stop(text: str, stops: tuple[str, ...]) -> str | None:
    """`text` up to and including the earliest-ending stop string, or None when none occurs."""
    ends = [i + len(s) for s in stops if (i := text.find(s)) >= 0]
    return text[: min(ends)] if ends else None


def completion_text(decode, token_ids: list[int], finish_reason: str, stops: tuple[str, ...]) -> str:
    """The text contract every token backend keeps: a final EOS is left out of the text (it stays
    in token_ids), a stop string is kept and the text cut right after it. decode: ids -> str."""
    if finish_reason == "eos":
        return decode(token_ids[:-1])
    text = decode(token_ids)
    if finish_reason == "stop":
        text = cut_at_stop(text, stops) or text
    return text


class StopChecker:
    def __init__(self, tokenizer, stops: tuple[str, ...], pieces: list[str], device):
        """pieces[i] is the text of token id i decoded alone (cached by the caller per tokenizer)."""
        self.tokenizer, self.stops = tokenizer, stops
        self.window = max(len(s) for s in stops) + 2  # tokens: each non-empty token has >= 1 char
        last = {s[-1] for s in stops}
        flags = [("\ufffd" in p) or any(c in p for c in last) for p in pieces]
        self.can_end = torch.tensor(flags, dtype=torch.bool, device=device)  # (V,)

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def ends_here(self, generated: list[int]) -> bool:
        """Whether a stop string ends inside the last token of `generated` (a row's new tokens)."""
        tail = generated[-self.window :]
        text = self._decode(tail)
        start_of_last = len(self._decode(tail[:-1]))
        for s in self.stops:
            i = text.find(s, max(0, start_of_last - len(s) + 1))
            if i >= 0 and i + len(s) > start_of_last:
                return True
        return False
