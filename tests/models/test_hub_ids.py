"""Hub ids: the local cache is used without a network; an unreachable hub fails in seconds, on one line."""

import time

import pytest

from ponder.models import resolve_model
from ponder.types import PonderError


def test_unreachable_hub_fails_fast_with_what_to_do(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    start = time.perf_counter()
    with pytest.raises(PonderError, match="cannot reach the Hugging Face hub.*local folder") as e:
        resolve_model("nobody/no-such-model")
    assert time.perf_counter() - start < 10 and "\n" not in str(e.value)


def test_offline_mode_names_the_cache(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PonderError, match="not in the local Hugging Face cache and HF_HUB_OFFLINE"):
        resolve_model("nobody/no-such-model")


def test_cached_hub_id_resolves_to_its_snapshot_folder(tmp_path, monkeypatch):
    from huggingface_hub import constants

    repo = tmp_path / "models--org--tiny"
    snap = repo / "snapshots" / ("a" * 40)
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    (snap / "config.json").write_text("{}")
    (snap / "tokenizer.json").write_text("{}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    assert resolve_model("org/tiny") == str(snap)


def test_shipped_and_saved_tokenizers_load_on_transformers_4(tmp_path):
    """pyproject allows transformers 4.56+: transformers 5's "TokenizersBackend" class name must not ship."""
    import json

    from ponder.models import BUILTIN, portable_tokenizer_config
    from ponder.models.tiny.build import build_tokenizer

    for name, path in BUILTIN.items():
        cfg = json.loads((path / "tokenizer_config.json").read_text())
        assert cfg["tokenizer_class"] == "PreTrainedTokenizerFast", name
        assert cfg["model_input_names"] == ["input_ids", "attention_mask"], name
    build_tokenizer().save_pretrained(tmp_path)
    portable_tokenizer_config(tmp_path)
    assert json.loads((tmp_path / "tokenizer_config.json").read_text())["tokenizer_class"] == "PreTrainedTokenizerFast"
