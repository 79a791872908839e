"""A scripted, deterministic Generator for tests.

The script maps (prompt, sample index) to the full continuation the "model" would write; the
fake applies stop strings and max_tokens the way a real backend does, so step-level search over
a fake works exactly as over a model. Tokens are characters; every token's logprob is
`logprob`, and with SamplingParams.token_stats every token's entropy is `entropy` and its
self-certainty `certainty`.
"""

from __future__ import annotations

from collections.abc import Callable

from ponder.types import Completion, SamplingParams

Script = Callable[[str, int], str]


def _apply_stop(text: str, params: SamplingParams) -> tuple[str, str]:
    """Cut at the earliest stop string (kept in the text), then at max_tokens."""
    cut, reason = len(text), "eos"
    for s in params.stop:
        i = text.find(s)
        if i >= 0 and i + len(s) <= cut:
            cut, reason = i + len(s), "stop"
    if cut > params.max_tokens:
        return text[: params.max_tokens], "length"
    return text[:cut], reason


class FakeGenerator:
    name = "fake"

    def __init__(
        self,
        script: Script | dict[str, list[str]] | list[str],
        n_params: int = 1000,
        logprob: float = -0.1,
        template: str = "{question}\n",
        entropy: float = 1.0,
        certainty: float = 1.0,
    ):
        self.script = script
        self.n_params = n_params
        self.logprob = logprob
        self.template = template
        self.entropy = entropy
        self.certainty = certainty
        self.calls: list[tuple[list[str], SamplingParams]] = []

    def render(self, question: str) -> str:
        return self.template.format(question=question)

    def _continuation(self, prompt: str, i: int) -> str:
        if callable(self.script):
            return self.script(prompt, i)
        if isinstance(self.script, dict):
            options = self.script.get(prompt, [""])
            return options[i % len(options)]
        return self.script[i % len(self.script)]

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        self.calls.append((list(prompts), params))
        out = []
        for prompt in prompts:
            group = []
            for i in range(params.n):
                text, reason = _apply_stop(self._continuation(prompt, i), params)
                group.append(
                    Completion(
                        text=text,
                        token_ids=[ord(ch) for ch in text],
                        logprobs=[self.logprob] * len(text) if params.logprobs else None,
                        finish_reason=reason,
                        prompt_tokens=len(prompt),
                        entropies=[self.entropy] * len(text) if params.token_stats else None,
                        certainties=[self.certainty] * len(text) if params.token_stats else None,
                    )
                )
            out.append(group)
        return out
