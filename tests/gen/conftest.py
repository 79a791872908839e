"""Shared fixtures for generator tests: small random models with diverse (non-repetitive) outputs."""

import pytest
import torch

from ponder.models.tiny.build import build_model

SMALL = dict(initializer_range=0.3, num_hidden_layers=2, hidden_size=64, intermediate_size=128, num_attention_heads=4)


@pytest.fixture(scope="module")
def llama():
    torch.set_num_threads(1)
    model, tok = build_model(num_key_value_heads=2, **SMALL)  # GQA: 4 query heads share 2 kv heads
    return model.eval(), tok
