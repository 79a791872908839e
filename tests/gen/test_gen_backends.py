"""Backend choice and backend options: wrong combinations fail in one line before any model loads."""

import sys

import pytest

from ponder.cli import main
from ponder.gen import load_generator
from ponder.gen.options import split_backend
from ponder.types import PonderError


def test_backend_prefix_and_flag():
    assert split_backend("vllm:tiny", None) == ("vllm", "tiny")
    assert split_backend("hf:runs/ckpt", None) == ("hf", "runs/ckpt")
    assert split_backend("tiny", "vllm") == ("vllm", "tiny")
    assert split_backend("Qwen/Qwen2.5-0.5B", None) == ("hf", "Qwen/Qwen2.5-0.5B")
    with pytest.raises(PonderError, match="names the vllm backend but --backend is hf"):
        split_backend("vllm:tiny", "hf")
    with pytest.raises(PonderError, match="unknown backend 'vlm'"):
        split_backend("tiny", "vlm")


def test_options_of_the_other_backend_are_errors():
    with pytest.raises(
        PonderError, match="--gen-options.max_model_len is a vllm option, not a hf one; add --backend vllm"
    ):
        load_generator("tiny", max_model_len=256)
    with pytest.raises(PonderError, match="--gen-options.prefix_caching is a vllm option"):
        load_generator("tiny", backend="hf", prefix_caching=False)
    with pytest.raises(PonderError, match="--gen-options.device is a hf option, not a vllm one; add --backend hf"):
        load_generator("vllm:tiny", device="cpu")
    with pytest.raises(PonderError, match="no option 'temperature'"):
        load_generator("tiny", backend="vllm", temperature=0.5)
    with pytest.raises(PonderError, match="applies to local models only"):
        load_generator("http://127.0.0.1:1/v1", backend="vllm")


def test_missing_vllm_names_the_setup_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError, installed or not
    with pytest.raises(PonderError, match=r"bash scripts/setup.sh --vllm") as e:
        load_generator("tiny", backend="vllm")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["solve", "1+2", "--gen-options.max_model_len=256"], "--gen-options.max_model_len is a vllm option"),
        (["solve", "1+2", "--backend", "vllm", "--gen-options.device=cpu"], "--gen-options.device is a hf option"),
        (
            ["label", "--out", "x.jsonl", "--gen-options.gpu_memory_utilization=0.5"],
            "--gen-options.gpu_memory_utilization is a vllm",
        ),
        (["eval", "--models", "tiny", "--backend", "vlm", "--out", "OUT"], "unknown backend 'vlm'"),
    ],
)
def test_cli_rejects_wrong_backend_options(argv, message, capsys, tmp_path):
    argv = [str(tmp_path / "o") if a == "OUT" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
