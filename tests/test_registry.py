import pytest

from ponder.registry import Registry
from ponder.types import PonderError


def test_register_get_and_unknown_name_lists_known():
    reg = Registry("widget")

    @reg.register("alpha")
    def alpha():
        return 1

    assert reg.get("alpha") is alpha and reg.names() == ["alpha"] and "alpha" in reg
    with pytest.raises(PonderError, match=r"unknown widget 'alpah'.*Did you mean 'alpha'.*Known: alpha"):
        reg.get("alpah")


def test_plugin_from_file(tmp_path):
    f = tmp_path / "mine.py"
    f.write_text("def reward(prompts, completions, **columns):\n    return [1.0] * len(completions)\n")
    fn = Registry("reward").get(f"{f}:reward")
    assert fn([None], ["x"]) == [1.0]
    with pytest.raises(PonderError, match="defines no 'nope'"):
        Registry("reward").get(f"{f}:nope")
    with pytest.raises(PonderError, match="not found"):
        Registry("reward").get(f"{tmp_path}/missing.py:fn")


def test_duplicate_registration_is_an_error():
    reg = Registry("thing")
    reg.register("a")(lambda: 1)
    with pytest.raises(PonderError, match="twice"):
        reg.register("a")(lambda: 2)
