"""Prompt formats: system + user through a chat template, the system folded into the user message
when a template has no system role, a raw prompt for a base model, the documented defaults."""

import pytest

from ponder.prompts import PROMPTS, PromptedGenerator, default_prompt, get_prompt, render
from ponder.types import PonderError


class Tok:
    """A chat template stand-in; `system=False` raises on a system message like Gemma's does."""

    def __init__(self, system: bool = True, template: bool = True):
        self.system, self.chat_template = system, "x" if template else None

    def apply_chat_template(self, msgs, add_generation_prompt, tokenize):
        if not self.system and any(m["role"] == "system" for m in msgs):
            raise ValueError("System role not supported")
        return "".join(f"<{m['role']}>{m['content']}" for m in msgs) + "<assistant>"


def test_every_format_renders_the_question_and_its_instruction():
    for name in ("r1", "boxed", "code", "plain"):
        text = render(get_prompt(name), Tok(), "What is 2+2?")
        assert "What is 2+2?" in text and text.endswith("<assistant>")
    assert render(get_prompt("r1"), Tok(), "q").startswith("<system>A conversation")
    assert "\\boxed{}" in render(get_prompt("boxed"), Tok(), "q") and "```python" in render(
        get_prompt("code"), Tok(), "q"
    )
    assert set(PROMPTS.names()) >= {"r1", "boxed", "code", "plain", "tiny"}


def test_no_system_role_folds_and_base_model_gets_a_raw_prompt():
    folded = render(get_prompt("r1"), Tok(system=False), "q")
    assert folded.startswith("<user>A conversation") and folded.count("<user>") == 1 and "<system>" not in folded
    raw = render(get_prompt("r1"), Tok(template=False), "q")
    assert raw.startswith("A conversation") and raw.endswith("q\n")


def test_defaults_and_errors():
    assert default_prompt("tiny", "countdown") == "tiny" and default_prompt("/m", "gsm8k") == "r1"
    assert default_prompt("/m", "math500") == "boxed" and default_prompt("/m", "mbpp") == "code"
    with pytest.raises(PonderError, match="prompt format"):
        get_prompt("nope")

    class Bare:
        def render(self, q):
            return q

    assert PromptedGenerator(Bare(), "tiny").render("q") == "q"
    with pytest.raises(PonderError, match="tokenizer"):
        PromptedGenerator(Bare(), "r1")
