"""Token positions of step boundaries: how a reward model reads a trace.

A trace is the prompt (the backbone tokenizer's chat template applied to the question, as the
policy renders it) followed by its steps. `encode_trace` tokenizes that text once and returns
the index of the token that ends each step (the one holding the step's last character, i.e. its
delimiter), so one forward pass yields one score per step. Alignment is checked, never assumed:
every step but the last must end with the delimiter and hold no other delimiter, and two
non-empty steps may not end on the same token (a tokenizer merging across a step boundary).

A reward model may read the text through a *view* (`VIEWS`): `reversed_digits` writes every
number's digits in reverse (least significant first), keeping every other character in place,
so step boundaries do not move. A verifier trained from scratch checks `a+b=c` digit by digit
from the units up, as the carries run, instead of having to look ahead (Lee et al. 2023,
"Teaching Arithmetic to Small Transformers", found reversed results far easier to learn).

Left out: tokenizers without offset mappings (slow Python tokenizers); load a fast one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ponder.types import PonderError

_DIGITS = re.compile(r"\d+")


def reversed_digits(text: str) -> str:
    """`text` with every run of digits reversed in place: `184*8=1472` -> `481*8=2741`."""
    return _DIGITS.sub(lambda m: m[0][::-1], text)


VIEWS = {"plain": lambda text: text, "reversed_digits": reversed_digits}


def check_view(name: str) -> None:
    if name not in VIEWS:
        raise PonderError(f"reward-model view must be one of {', '.join(VIEWS)}, got {name!r}")


@dataclass
class Encoded:
    input_ids: list[int]
    boundaries: list[int]  # (S,) token index that ends each step
    prompt_tokens: int = 0  # tokens of the prompt (the steps start after them)


def render_prompt(tokenizer, question: str) -> str:
    """The question as the policy sees it: the chat template when there is one, else `question\\n`."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
        )
    return question + "\n"


def check_steps(steps: list[str], delimiter: str, where: str = "trace") -> None:
    """Raise unless `steps` were cut at `delimiter` (each but the last ends with it, once)."""
    if not steps:
        raise PonderError(f"{where} has no steps; a reward model needs at least one step")
    for i, s in enumerate(steps):
        body = s[: -len(delimiter)] if s.endswith(delimiter) else s
        if i < len(steps) - 1 and not s.endswith(delimiter):
            raise PonderError(
                f"{where}: step {i} does not end with the reward model's step delimiter {delimiter!r} "
                f"(step {s[-20:]!r}); the policy and the PRM must split steps the same way"
            )
        if delimiter in body:
            raise PonderError(
                f"{where}: step {i} contains the step delimiter {delimiter!r} inside it; "
                "split the trace with ponder.steps.split_steps using the PRM's delimiter"
            )


def _token_at(offsets: list[tuple[int, int]], char: int) -> int:
    """Index of the token whose character span holds position `char` (binary search)."""
    lo, hi = 0, len(offsets) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if offsets[mid][1] <= char:
            lo = mid + 1
        else:
            hi = mid
    return lo


def encode_trace(tokenizer, prompt: str, steps: list[str], delimiter: str, max_length: int, where: str) -> Encoded:
    """Token ids of prompt + steps and the boundary token of every step; errors on misalignment."""
    check_steps(steps, delimiter, where)
    text = prompt + "".join(steps)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    if len(ids) > max_length:
        raise PonderError(
            f"{where} is {len(ids)} tokens, more than the reward model's {max_length}; "
            "shorten the trace or use a backbone with a longer context (steps are never dropped)"
        )
    boundaries, end, prev = [], len(prompt), -1
    for i, s in enumerate(steps):
        end += len(s)
        b = _token_at(offsets, end - 1) if end > 0 else 0
        if s and b <= prev:
            raise PonderError(
                f"{where}: steps {i - 1} and {i} end on the same token; the tokenizer merges across the step boundary"
            )
        boundaries.append(b)
        prev = b if s else prev
    n_prompt = _token_at(offsets, len(prompt) - 1) + 1 if prompt else 0
    return Encoded(input_ids=list(ids), boundaries=boundaries, prompt_tokens=n_prompt)
