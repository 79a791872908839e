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


@pytest.mark.parametrize(
    "value, message",
    [
        (16, "block_size=16: vLLM's CPU attention needs a multiple of 32"),
        (48, "block_size=48: vLLM's CPU attention needs a multiple of 32"),
        (0, "block_size must be a positive whole number of tokens, got 0"),
        (-32, "got -32"),
        ("32", "got '32'"),
        (True, "got True"),
    ],
)
def test_bad_block_size_is_a_one_line_error_before_vllm_loads(value, message, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # the check comes before vLLM is imported
    monkeypatch.setattr("ponder.gen.vllm._has_cuda", lambda: False)
    with pytest.raises(PonderError, match=message) as e:
        load_generator("tiny", backend="vllm", block_size=value)
    assert "\n" not in str(e.value)


def test_block_size_defaults():
    from ponder.gen.vllm import CPU_BLOCK_SIZE, check_block_size

    assert check_block_size(None, cuda=False) == CPU_BLOCK_SIZE == 32
    assert check_block_size(None, cuda=True) is None  # vLLM's own default on CUDA
    assert check_block_size(64, cuda=False) == 64
    assert check_block_size(16, cuda=True) == 16  # CUDA kernels differ: vLLM checks those


def test_picked_logprobs_reads_the_picked_token_of_each_position():
    from types import SimpleNamespace

    from ponder.gen.vllm import picked_logprobs

    # vLLM's FlatLogprobs: position i spans [start_indices[i], end_indices[i]) of the flat lists;
    # position 0 of prompt logprobs is empty, and top-k tokens may sit before the picked one.
    flat = SimpleNamespace(
        start_indices=[0, 0, 2, 3],
        end_indices=[0, 2, 3, 5],
        token_ids=[7, 5, 9, 4, 8],
        logprobs=[-0.1, -2.0, -0.3, -0.5, -1.5],
    )
    assert picked_logprobs(flat, [5, 9, 8], start=1) == [-2.0, -0.3, -1.5]
    assert picked_logprobs(flat, [9], start=2) == [-0.3]
    with pytest.raises(ValueError):
        picked_logprobs(flat, [6], start=1)  # a token the position does not hold
    lp = SimpleNamespace  # older vLLM: one {token: Logprob} dict per position
    dicts = [None, {5: lp(logprob=-2.0), 7: lp(logprob=-0.1)}, {9: lp(logprob=-0.3)}]
    assert picked_logprobs(dicts, [5, 9], start=1) == [-2.0, -0.3]
