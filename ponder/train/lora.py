"""LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") through the
`peft` library: low-rank adapters on chosen linear modules train while the base weights stay
frozen.

- The KL / DPO reference is the same model with its adapters switched off (`AdaptersOff`):
  exactly the base policy, with no second copy of the weights in memory.
- Checkpoints hold only the adapters (`adapter_config.json`, `adapter_model.safetensors`) plus
  the tokenizer; the adapter config names its base (a built-in name, an absolute folder or a
  hub id), so a checkpoint is accepted wherever `--model` is (ponder.models.load merges it
  into its base on load).
- `merge` writes base + adapters as one plain Hugging Face folder (`ponder train merge`);
  `merged_weights` gives the same weights in memory (W + scale * B A per adapted layer, under the
  plain model's names), which is what a vLLM sampler is sent during training (gen/synced.py).

Left out: QLoRA (4-bit base weights), DoRA and other peft variants, several adapters at once.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ponder.train.common import LoRAConfig
from ponder.types import PonderError

ADAPTER_WEIGHTS = "adapter_model.safetensors"


def base_reference(name: str) -> str:
    """How an adapter names its base: a built-in name or hub id as given, a folder absolutely."""
    from ponder.models import BUILTIN

    path = Path(name).expanduser()
    return name if name in BUILTIN or not path.exists() else str(path.resolve())


def add_adapters(model, cfg: LoRAConfig, *, base: str):
    """The model with fresh LoRA adapters on cfg.targets (peft.PeftModel; only adapters train)."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise PonderError("train.lora needs the peft library: pip install 'ponder[train]'") from None
    targets = "all-linear" if cfg.targets == ["all-linear"] else list(cfg.targets)
    pc = LoraConfig(
        r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=targets, task_type="CAUSAL_LM"
    )
    try:
        peft_model = get_peft_model(model, pc)
    except ValueError as e:
        names = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
        raise PonderError(f"train.lora.targets {cfg.targets} ({e}); linear modules here: {names}") from None
    peft_model.peft_config["default"].base_model_name_or_path = base_reference(base)
    return peft_model


class AdaptersOff:
    """The reference policy of a LoRA run: the shared model called with its adapters disabled.
    Callable like the model (`ref(input_ids=..., attention_mask=...)`); use under no_grad."""

    def __init__(self, peft_model):
        self.model = peft_model

    def __call__(self, **inputs):
        with self.model.disable_adapter():
            return self.model(**inputs)


@torch.no_grad()
def merged_weights(peft_model) -> dict[str, torch.Tensor]:
    """The plain model's state dict with every adapter merged in (new tensors; the live model
    is untouched): `name.base_layer.weight` + its delta as `name.weight`, adapter tensors dropped."""
    from peft.tuners.lora import LoraLayer

    inner = peft_model.get_base_model()
    out = {k.replace(".base_layer", ""): v for k, v in inner.state_dict().items() if ".lora_" not in k}
    for name, mod in inner.named_modules():
        if isinstance(mod, LoraLayer):
            delta = sum(mod.get_delta_weight(a) for a in mod.active_adapters if a in mod.lora_A)
            out[f"{name}.weight"] = mod.get_base_layer().weight + delta
    return out


def save_adapters(peft_model, tokenizer, folder: Path) -> None:
    # save_embedding_layers=False: "auto" looks the base up (on the hub for a built-in name)
    peft_model.save_pretrained(folder, safe_serialization=True, save_embedding_layers=False)
    tokenizer.save_pretrained(folder)


def load_adapter_weights(peft_model, folder: Path) -> None:
    """Adapter weights of a checkpoint into the live model, in place; a mismatch is an error."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    result = set_peft_model_state_dict(peft_model, load_file(str(folder / ADAPTER_WEIGHTS)))
    if result.unexpected_keys:
        raise PonderError(f"checkpoint {folder} does not match the adapters: unexpected {result.unexpected_keys}")


def merge(adapter_dir: str | Path, out: str | Path) -> Path:
    """Base + adapters of `adapter_dir` (or a run folder's newest checkpoint) as one plain
    Hugging Face folder at `out`; returns it."""
    from ponder.models.load import load_causal_lm

    adapter_dir, out = Path(adapter_dir), Path(out)
    if (adapter_dir / "latest").is_file():
        from ponder.train.checkpoint import find_resume_point

        adapter_dir = find_resume_point(adapter_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise PonderError(f"{adapter_dir} holds no LoRA adapters (no adapter_config.json)")
    if out.exists() and any(out.iterdir()):
        raise PonderError(f"{out} exists and is not empty; choose a new folder (nothing was written)")
    model, tok = load_causal_lm(str(adapter_dir))
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    base = json.loads((adapter_dir / "adapter_config.json").read_text())["base_model_name_or_path"]
    (out / "merged_from.json").write_text(json.dumps({"adapters": str(adapter_dir.resolve()), "base": base}) + "\n")
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="ponder train merge", description="merge LoRA adapters into their base")
    ap.add_argument("adapters", help="an adapter checkpoint folder, or a LoRA run folder (its newest checkpoint)")
    ap.add_argument("out", help="new folder for the merged Hugging Face model")
    args = ap.parse_args(argv)
    print(f"merged model written to {merge(args.adapters, args.out)}")
    return 0
