"""Shared fixtures for generator tests: small random models with diverse (non-repetitive) outputs,
and the decode paths a test can run on (the compiled kernel, the eager torch step, the generic loop)."""

import pytest
import torch

from ponder.models.tiny.build import build_model

SMALL = dict(initializer_range=0.3, num_hidden_layers=2, hidden_size=64, intermediate_size=128, num_attention_heads=4)


@pytest.fixture(scope="module")
def llama():
    torch.set_num_threads(1)
    model, tok = build_model(num_key_value_heads=2, **SMALL)  # GQA: 4 query heads share 2 kv heads
    return model.eval(), tok


def use_decode_step(monkeypatch, step: str) -> None:
    """Switch the fast path to the compiled kernel or the eager torch step (skip: no kernel here)."""
    from ponder.gen.kernels import build

    if step == "eager":
        monkeypatch.setenv("PONDER_NO_KERNELS", "1")
        return
    monkeypatch.delenv("PONDER_NO_KERNELS", raising=False)
    if build.load() is None:
        pytest.skip("the decode kernel cannot be built here (see the log for why)")


@pytest.fixture
def set_decode_step(monkeypatch):
    """A function switching the fast path's step to "kernel" or "eager" for the rest of a test."""
    return lambda step: use_decode_step(monkeypatch, step)


@pytest.fixture(params=["kernel", "eager"])
def decode_step(request, monkeypatch) -> str:
    """The fast path's step: "kernel" (kernels/decode.cpp) or "eager" (torch ops)."""
    use_decode_step(monkeypatch, request.param)
    return request.param


@pytest.fixture(params=["kernel", "eager", "generic"])
def decode_path(request, monkeypatch) -> bool | None:
    """A value for HFGenerator.fast: the fast path with the kernel or the eager step (None), or
    the generic loop (False)."""
    use_decode_step(monkeypatch, "eager" if request.param == "generic" else request.param)
    return False if request.param == "generic" else None
