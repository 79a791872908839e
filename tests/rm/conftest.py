"""Fixtures shared by the reward-model tests: a random 1-layer tiny backbone (module-scoped) to put
PRM/ORM heads on."""

import pytest

from ponder.models.tiny.build import build_model


@pytest.fixture(scope="module")
def backbone():
    return build_model(
        seed=0, num_hidden_layers=1, hidden_size=32, intermediate_size=64, num_attention_heads=2, num_key_value_heads=2
    )
