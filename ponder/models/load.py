"""Loading a causal LM for inference or training from anything `--model` accepts: a built-in
name, a Hugging Face folder, a hub id, or a LoRA adapter folder (`ponder train grpo
--train.lora.r=8` checkpoints) whose adapter_config.json names its base. Adapters are merged
into the base on load, so every backend (including the fast Llama decoder, which reads weight
matrices directly) sees one plain model.

Left out: keeping adapters unmerged (several adapters on one base, hot-swapping).
"""

from __future__ import annotations

import json
from pathlib import Path

from ponder.types import PonderError

ADAPTER_CONFIG = "adapter_config.json"


def is_adapter_dir(path: str | Path) -> bool:
    p = Path(path)
    return (p / ADAPTER_CONFIG).is_file() and not (p / "config.json").is_file()


def adapter_base(path: str | Path) -> str:
    """The base model an adapter folder names."""
    try:
        base = json.loads((Path(path) / ADAPTER_CONFIG).read_text()).get("base_model_name_or_path")
    except (OSError, ValueError) as e:
        raise PonderError(f"{path}/{ADAPTER_CONFIG} is unreadable ({e})") from None
    if not base:
        raise PonderError(f"{path}/{ADAPTER_CONFIG} does not name its base model (base_model_name_or_path)")
    return base


def load_causal_lm(name: str | None, *, dtype=None, device: str = "cpu"):
    """(model, tokenizer) for a model name/folder/hub id or an adapter folder (merged into its base)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ponder.models import resolve_model

    path = resolve_model(name)
    try:
        tok = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as e:
        raise PonderError(f"model {name!r} has no usable tokenizer ({e}); save one beside the weights") from None
    if not is_adapter_dir(path):
        return AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device), tok
    try:
        from peft import PeftModel
    except ImportError:
        raise PonderError(f"{path} holds LoRA adapters; loading them needs peft: pip install 'ponder[train]'") from None
    base = AutoModelForCausalLM.from_pretrained(resolve_model(adapter_base(path)), dtype=dtype)
    model = PeftModel.from_pretrained(base, path).merge_and_unload()
    return model.to(device), tok
