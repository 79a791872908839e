"""Prompt formats as a registry: how a question becomes the text a model continues.

`r1` asks for `<think>…</think><answer>…</answer>`, `boxed` for a final `\\boxed{}` (math), `code`
for one fenced Python block, `plain` sends the question alone, and `tiny` is the built-in tiny
reasoner's own (its generator's `render`, the format it was trained on). A format is a system
message, a user message built around the question, and an optional assistant prefill. It renders
through the model's chat template (system + user); a template that rejects a system role gets the
system text folded into the user message; a model without a template (a base model) gets a raw
completion prompt. `PromptedGenerator` wraps any Generator so that every strategy renders with
the chosen format; `default_prompt` is the documented default per model and task.

Left out: few-shot exemplars and per-family templates beyond the system-role fold (a family that
needs more registers its own format).
"""

from __future__ import annotations

from dataclasses import dataclass

from ponder.registry import Registry
from ponder.types import Completion, Generator, PonderError, SamplingParams

PROMPTS = Registry("prompt format")
TASK_DEFAULTS = {"math": "boxed", "math500": "boxed", "humaneval": "code", "mbpp": "code"}  # else r1


@dataclass(frozen=True)
class PromptFormat:
    """system: the system message ("" for none); user: the user message, with {question};
    prefill: text the assistant turn starts with (e.g. "<think>"); answer: how the answer is
    marked (answer | boxed | code | free), which extraction and the format reward follow."""

    name: str
    system: str
    user: str
    prefill: str = ""
    answer: str = "answer"

    def messages(self, question: str) -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": self.system}] if self.system else []
        return [*msgs, {"role": "user", "content": self.user.format(question=question)}]


R1_SYSTEM = (
    "A conversation between User and Assistant. The Assistant first thinks about the reasoning "
    "process step by step, then gives the answer. The reasoning is enclosed in <think> </think> and "
    "the answer in <answer> </answer> tags: <think> reasoning </think>\n<answer> answer </answer>."
)
for _fmt in (
    PromptFormat("r1", R1_SYSTEM, "{question}"),
    PromptFormat(
        "boxed",
        "",
        "{question}\nPlease reason step by step, and put your final answer within \\boxed{{}}.",
        answer="boxed",
    ),  # fmt: skip
    PromptFormat(
        "code", "", "{question}\nWrite your solution as one Python code block: ```python ... ```.", answer="code"
    ),  # fmt: skip
    PromptFormat("r1-think", R1_SYSTEM, "{question}", prefill="<think>"),  # families that start thinking in the prompt
    PromptFormat("plain", "", "{question}", answer="free"),
    PromptFormat("tiny", "", "{question}"),  # rendered by the tiny reasoner's own generator
):
    PROMPTS.register(_fmt.name)(_fmt)


def get_prompt(name: str) -> PromptFormat:
    return PROMPTS.get(name)


def answer_style_of(prompt: str) -> str:
    """How the answer is marked (answer | boxed | code | free) in a response to `prompt`, read
    off the registered formats' instructions in the rendered prompt; `answer` (R1 tags: the tiny
    reasoner's and r1's layout) when none is found. `plain` leaves no trace in its prompt, so a
    caller that used it passes style="free" itself."""
    for fmt in PROMPTS.names():
        f = PROMPTS.get(fmt)
        marker = f.user.replace("{question}", "").strip() if f.answer in ("boxed", "code") else ""
        if marker and marker.replace("{{}}", "{}") in str(prompt):
            return f.answer
    return "answer"


def default_prompt(model: str, task: str | None) -> str:
    """The tiny reasoner's own format for built-in models, else by task: boxed for MATH, code for
    HumanEval/MBPP, r1 for everything else."""
    from ponder.models import BUILTIN

    name = str(model).split(":", 1)[1] if str(model).startswith(("hf:", "vllm:")) else str(model)
    if name in BUILTIN:
        return "tiny"
    return TASK_DEFAULTS.get(task or "", "r1")


def prompted(gen: Generator, model: str, task: str | None, name: str | None = None) -> PromptedGenerator:
    """`gen` rendering with format `name`, else the documented default for (model, task); a
    generator that cannot render a format (no tokenizer, not a server: a test fake) keeps its own
    rendering when no format was asked for."""
    if name is None:
        name = default_prompt(model, task)
        if getattr(gen, "tokenizer", None) is None and not hasattr(gen, "render_messages"):
            name = "tiny"
    return PromptedGenerator(gen, name)


def render(fmt: PromptFormat, tokenizer, question: str) -> str:
    """The prompt text: chat template with system + user (system folded into the user message
    when the template refuses a system role), or a raw completion prompt without a template."""
    msgs = fmt.messages(question)
    if getattr(tokenizer, "chat_template", None):
        try:
            text = tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        except Exception:  # jinja raises on a role the family does not have (e.g. Gemma: no system)
            text = tokenizer.apply_chat_template(fold_system(msgs), add_generation_prompt=True, tokenize=False)
        if fmt.system and fmt.system not in text:  # the template dropped it silently
            text = tokenizer.apply_chat_template(fold_system(msgs), add_generation_prompt=True, tokenize=False)
        return text + fmt.prefill
    system = f"{fmt.system}\n\n" if fmt.system else ""
    return f"{system}{fmt.user.format(question=question)}\n{fmt.prefill}"


def fold_system(msgs: list[dict[str, str]]) -> list[dict[str, str]]:
    """System message merged into the first user message (for families without a system role)."""
    system = "\n\n".join(m["content"] for m in msgs if m["role"] == "system")
    rest = [dict(m) for m in msgs if m["role"] != "system"]
    if system and rest:
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
    return rest


class PromptedGenerator:
    """A Generator whose `render` uses prompt format `name`; everything else passes through."""

    def __init__(self, gen: Generator, name: str):
        self.gen, self.format = gen, get_prompt(name)
        if name != "tiny" and getattr(gen, "tokenizer", None) is None and not hasattr(gen, "render_messages"):
            raise PonderError(f"--prompt {name} needs a model with a tokenizer or an OpenAI-compatible server")

    def __getattr__(self, attr: str):
        return getattr(self.gen, attr)

    def render(self, question: str) -> str:
        if self.format.name == "tiny":
            return self.gen.render(question)
        if hasattr(self.gen, "render_messages"):
            return self.gen.render_messages(self.format.messages(question)) + self.format.prefill
        return render(self.format, self.gen.tokenizer, question)

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        return self.gen.generate(prompts, params)
