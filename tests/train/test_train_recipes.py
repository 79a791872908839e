"""Every recipe parses into its method's config, and opens with what it reproduces and the
number it should reach."""

from pathlib import Path

import pytest

from ponder.train.cli import load_method_config

RECIPES = sorted(p for p in (Path(__file__).parents[2] / "recipes").glob("*.yaml") if p.name != "base.yaml")
METHOD = {
    **{k: "grpo" for k in ("grpo", "dapo", "dr", "gspo", "cispo", "rloo", "reinforce", "opd")},
    "sft": "sft",
    "rft": "rft",
    "star": "star",
    "dpo": "dpo",
}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipe_parses_and_opens_with_its_claim(path):
    method = METHOD.get(path.name.split("_")[0])
    if method is None:
        pytest.skip(f"{path.name} is not a train recipe")
    text = path.read_text()
    assert text.startswith("#") and "Should reach" in text
    cfg, _ = load_method_config(method, [str(path)])
    assert cfg.run.out.startswith("runs/")
