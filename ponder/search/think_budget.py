"""A thinking-token budget for any strategy: a Generator wrapper that lets no trace think longer
than `think_tokens` tokens, then forces `</think>\\n<answer>` and generates the answer, so a
capped trace still ends in an answer (s1's budget forcing, applied to every generator call).

For each prompt the wrapper reads how far the trace has thought: the tokens after its last
`<think>` when that is not yet closed (0 when the prompt has not opened thinking). A call runs
with max_tokens lowered to the room left (prompts grouped by that room, one inner call per
group). A completion that used up its room while still thinking, or ended (EOS) inside
`<think>`, gets the forced tags and one greedy answer of at most `answer_tokens`, all such
completions in one inner call. A step that ends on its stop string with the room spent is left
alone: the next call of the strategy finds no room and is answered at once.

`finish(prompts, responses)` closes responses a strategy returned without an answer (its own
max_tokens hit while thinking) the same way. Forced tokens are counted (token ids -1, logprob
0: they were not sampled). Left out: a model whose thinking tag is not `<think>`; a model that
never opens `<think>` is still capped at `think_tokens` + the tag's tokens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ponder.steps import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN
from ponder.types import Completion, Generator, SamplingParams

ANSWER_TOKENS = 32


def thinking_state(text: str) -> tuple[bool, bool, str]:
    """(opened, closed, thinking so far) of a trace: the text after its last `<think>` while open."""
    start = text.rfind(THINK_OPEN)
    if start < 0:
        return False, False, ""
    body = text[start + len(THINK_OPEN) :]
    return True, THINK_CLOSE in body, body


def forced_suffix(text: str) -> str:
    """The tags that end thinking now and open the answer."""
    opened, closed, _ = thinking_state(text)
    if closed:
        return "" if text.rstrip().endswith(ANSWER_OPEN) else f"\n{ANSWER_OPEN}"
    return ("" if opened else THINK_OPEN) + f"{THINK_CLOSE}\n{ANSWER_OPEN}"


def needs_answer(text: str) -> bool:
    """A trace that stopped inside `<think>` (or right after `</think>`) and has no answer."""
    opened, closed, body = thinking_state(text)
    if not opened:
        return False
    return not closed or ANSWER_CLOSE not in body


class ThinkBudget:
    """Wraps a Generator; `think_tokens=None` passes every call through unchanged."""

    def __init__(
        self,
        gen: Generator,
        think_tokens: int | None,
        count_tokens: Callable[[str], int],
        answer_tokens: int = ANSWER_TOKENS,
    ):
        self.gen, self.think_tokens, self.count = gen, think_tokens, count_tokens
        self.answer_tokens = answer_tokens
        self.name, self.n_params = gen.name, gen.n_params
        self.forced = 0  # completions whose answer was forced

    def render(self, question: str) -> str:
        return self.gen.render(question)

    def _room(self, prompt: str) -> int | None:
        """Thinking tokens left to this prompt's trace (None: it has finished thinking)."""
        opened, closed, body = thinking_state(prompt)
        if closed:
            return None
        used = self.count(body) if opened else -self.count(THINK_OPEN)  # the open tag is not thinking
        return max(0, self.think_tokens - used)

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        if self.think_tokens is None or not prompts:
            return self.gen.generate(prompts, params)
        caps = [params.max_tokens if r is None else min(params.max_tokens, r) for r in map(self._room, prompts)]
        out: list[list[Completion]] = [[] for _ in prompts]
        groups: dict[int, list[int]] = {}
        for i, cap in enumerate(caps):
            groups.setdefault(cap, []).append(i)
        for cap, idx in groups.items():
            if cap == 0:
                out_g = [[Completion(text="", logprobs=[] if params.logprobs else None)] * params.n for _ in idx]
            else:
                part = dataclasses.replace(params.for_prompts(len(prompts), idx), max_tokens=cap)  # seeds kept
                out_g = self.gen.generate([prompts[i] for i in idx], part)
            for i, group in zip(idx, out_g):
                out[i] = list(group)
        todo = [
            (i, j)
            for i, group in enumerate(out)
            for j, c in enumerate(group)
            if self._spent(prompts[i], c, caps[i] < params.max_tokens or caps[i] == 0)
        ]
        self._force(prompts, out, todo, params)
        return out

    def _spent(self, prompt: str, c: Completion, capped: bool) -> bool:
        """The completion ended inside `<think>` because its room ran out or the model stopped."""
        opened, closed, _ = thinking_state(prompt + c.text)
        if closed or not opened:
            return False
        return c.finish_reason == "eos" or (capped and c.finish_reason == "length")

    def _force(self, prompts: list[str], out: list[list[Completion]], todo: list[tuple[int, int]], params) -> None:
        if not todo:
            return
        heads = [out[i][j].text + forced_suffix(prompts[i] + out[i][j].text) for i, j in todo]
        answers = self._answer([prompts[i] + h for (i, _), h in zip(todo, heads)])
        for (i, j), head, ans in zip(todo, heads, answers):
            c = out[i][j]
            n_forced = self.count(head[len(c.text) :])
            lps = None
            if params.logprobs:
                lps = (c.logprobs or []) + [0.0] * n_forced + (ans.logprobs or [])
            out[i][j] = Completion(
                text=head + ans.text,
                token_ids=list(c.token_ids) + [-1] * n_forced + list(ans.token_ids),
                logprobs=lps,
                finish_reason="eos",
                prompt_tokens=c.prompt_tokens or ans.prompt_tokens,
            )
            self.forced += 1

    def _answer(self, prompts: list[str]) -> list[Completion]:
        """One greedy answer per prompt (each prompt ends in `<answer>`), closed by `</answer>`."""
        params = SamplingParams(n=1, temperature=0.0, max_tokens=self.answer_tokens, stop=(ANSWER_CLOSE,))
        outs = self.gen.generate(prompts, params)
        done = []
        for group in outs:
            c = group[0]
            if not c.text.endswith(ANSWER_CLOSE):
                c = dataclasses.replace(c, text=c.text + ANSWER_CLOSE)
            done.append(c)
        return done

    def finish(self, prompts: list[str], responses: list[str]) -> list[str]:
        """Responses with an answer: those that stopped while thinking get the answer forced."""
        todo = [i for i, r in enumerate(responses) if needs_answer(prompts[i] + r)]
        out = list(responses)
        if not todo:
            return out
        heads = [responses[i] + forced_suffix(prompts[i] + responses[i]) for i in todo]
        for i, head, ans in zip(todo, heads, self._answer([prompts[i] + h for i, h in zip(todo, heads)])):
            out[i] = head + ans.text
            self.forced += 1
        return out
