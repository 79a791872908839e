"""Where models come from: the built-in tiny reasoner (shipped inside the package), a local
Hugging Face folder, a LoRA adapter folder naming its base (models/load.py merges it), or a hub
id (only where a hub is reachable). `ponder models` lists them."""

from __future__ import annotations

import json
from pathlib import Path

from ponder.types import PonderError

TINY_DIR = Path(__file__).parent / "tiny" / "weights"
BUILTIN = {
    "tiny": TINY_DIR,  # the base tiny reasoner (model card: models/tiny/README.md)
    "tiny-v1": Path(__file__).parent / "tiny_v1" / "weights",  # the first one (models/tiny_v1/README.md)
    "tiny-r1zero": Path(__file__).parent / "tiny_r1zero" / "weights",  # after GRPO on Countdown
}
DEFAULT_MODEL = "tiny"


def resolve_model(name: str | None) -> str:
    """Name -> a local folder (checked to hold a config and a tokenizer) or a hub id."""
    name = name or DEFAULT_MODEL
    if name in BUILTIN:
        path = BUILTIN[name]
        if not (path / "config.json").is_file():
            raise PonderError(f"built-in model {name!r} has no weights at {path}; train it with `ponder train base`")
        return str(path)
    path = Path(name).expanduser()
    if path.exists():
        check_model_dir(path)
        return str(path)
    if name.count("/") == 1 and not name.startswith((".", "/")):
        return name  # a hub id; transformers reports a clear error when offline
    raise PonderError(f"unknown model {name!r}: not a built-in ({', '.join(BUILTIN)}), a folder, or a hub id")


def check_model_dir(path: Path) -> None:
    if not path.is_dir():
        raise PonderError(f"model path {path} is not a folder (expected a Hugging Face model folder)")
    if not (path / "config.json").is_file() and not (path / "adapter_config.json").is_file():
        raise PonderError(f"model folder {path} has no config.json (save it with save_pretrained)")
    if not any((path / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")):
        raise PonderError(
            f"model folder {path} has no tokenizer; save one with tokenizer.save_pretrained({str(path)!r})"
        )


def main(argv: list[str]) -> int:
    print(f"{'name':<12} {'default':<8} path / description")
    for name, path in BUILTIN.items():
        card = path / "config.json"
        desc = str(path) if card.is_file() else "(not trained yet: run `ponder train base`)"
        if card.is_file():
            cfg = json.loads(card.read_text())
            desc += f"  [{cfg.get('model_type')}, {cfg.get('num_hidden_layers')} layers, d={cfg.get('hidden_size')}]"
        print(f"{name:<12} {'yes' if name == DEFAULT_MODEL else '':<8} {desc}")
    print("any Hugging Face causal LM folder (or hub id where a hub is reachable) works too: --model PATH")
    return 0
