"""Where models come from: the built-in tiny reasoner (shipped inside the package), a local
Hugging Face folder, a LoRA adapter folder naming its base (models/load.py merges it), or a hub
id (from the local cache, or downloaded where the hub is reachable; an unreachable hub is one
error line after a few seconds). `ponder models` lists them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ponder.types import PonderError

TINY_DIR = Path(__file__).parent / "tiny" / "weights"
BUILTIN = {
    "tiny": TINY_DIR,  # the base tiny reasoner (model card: models/tiny/README.md)
    "tiny-v1": Path(__file__).parent / "tiny_v1" / "weights",  # the first one (models/tiny_v1/README.md)
    "tiny-v2": Path(__file__).parent / "tiny_v2" / "weights",  # the second one (models/tiny_v2/README.md)
    "tiny-r1zero": Path(__file__).parent / "tiny_r1zero" / "weights",  # after GRPO on Countdown
}
DEFAULT_MODEL = "tiny"


def resolve_model(name: str | None) -> str:
    """Name -> a local folder (checked to hold a config and a tokenizer) or a hub id. A training
    run's `RUN/latest` or `RUN/best` names one of its checkpoints (models/aliases.py)."""
    name = name or DEFAULT_MODEL
    if name in BUILTIN:
        path = BUILTIN[name]
        if not (path / "config.json").is_file():
            raise PonderError(f"built-in model {name!r} has no weights at {path}; train it with `ponder train base`")
        return str(path)
    from ponder.models.aliases import resolve_alias

    path = resolve_alias(name) or Path(name).expanduser()
    if path.exists():
        check_model_dir(path)
        return str(path)
    if name.count("/") == 1 and not name.startswith((".", "/")):
        return resolve_hub_id(name)
    raise PonderError(f"unknown model {name!r}: not a built-in ({', '.join(BUILTIN)}), a folder, or a hub id")


def resolve_hub_id(repo_id: str, timeout: float = 5.0) -> str:
    """A hub id -> its cached snapshot folder (no network touched), else the id itself once the hub
    has answered within `timeout` seconds, so that no network fails in seconds with what to do
    instead of after a minute of download retries."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        folder = Path(snapshot_download(repo_id, local_files_only=True))
        check_model_dir(folder)
        return str(folder)
    except LocalEntryNotFoundError:
        pass
    instead = (
        f"pass a local folder (--model ./folder), or download it where there is a network (`hf download {repo_id}`)"
    )
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise PonderError(
            f"model {repo_id!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set; {instead}"
        )
    try:
        HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None).model_info(repo_id, timeout=timeout)
    except RepositoryNotFoundError:
        raise PonderError(
            f"no model {repo_id!r} on the Hugging Face hub (private? log in with `hf auth login`)"
        ) from None
    except Exception as e:  # any network failure (the hub client's transport errors differ by version)
        why = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise PonderError(f"cannot reach the Hugging Face hub to get {repo_id!r} ({why}); {instead}") from None
    return repo_id


def portable_tokenizer_config(folder: str | Path) -> None:
    """Make a tokenizer folder written by transformers 5 load on 4.x too (pyproject allows >=4.56).

    transformers 5 records a plain `tokenizers` tokenizer as class "TokenizersBackend", which 4.x
    does not know; "PreTrainedTokenizerFast" loads as that same class on 5.x. 4.x would also hand
    the model `token_type_ids` unless the inputs are named. Other tokenizer classes are left alone."""
    path = Path(folder) / "tokenizer_config.json"
    if not path.is_file():
        return
    cfg = json.loads(path.read_text())
    if cfg.get("tokenizer_class") != "TokenizersBackend":
        return
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg.setdefault("model_input_names", ["input_ids", "attention_mask"])
    path.write_text(json.dumps(cfg, indent=2) + "\n")


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
    """`ponder models`: the built-in models and where they live; takes no options."""
    if argv and argv[0] not in ("-h", "--help"):
        raise PonderError(f"ponder models takes no arguments, got {argv[0]!r}")
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
