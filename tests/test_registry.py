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


def test_concurrent_first_lookups_wait_for_the_imports(tmp_path, monkeypatch):
    import sys
    import threading

    (tmp_path / "slow_plugin_mod.py").write_text(
        "import time\nfrom tests_registry_shared import REG\ntime.sleep(0.3)\n\n@REG.register('late')\ndef late():\n    return 1\n"
    )
    (tmp_path / "tests_registry_shared.py").write_text(
        "from ponder.registry import Registry\nREG = Registry('thing', modules=['slow_plugin_mod'])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from tests_registry_shared import REG

    found: list = []
    threads = [threading.Thread(target=lambda: found.append("late" in REG)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert found == [True] * 4
    for m in ("slow_plugin_mod", "tests_registry_shared"):
        sys.modules.pop(m, None)


def test_build_calls_the_factory_and_uses_an_object_plugin_as_it_is(tmp_path):
    reg = Registry("verifier")
    reg.register("const")(lambda value=1.0: lambda problems, responses: [value] * len(responses))
    assert reg.build("const", value=0.5)([None], ["x"]) == [0.5]
    f = tmp_path / "mine.py"
    f.write_text("def verifier(problems, responses):\n    return [2.0] * len(responses)\n")
    assert reg.build(f"{f}:verifier")([None], ["x"]) == [2.0]
    with pytest.raises(PonderError, match="takes no options"):
        reg.build(f"{f}:verifier", value=3)


def test_build_calls_a_factory_plugin_with_its_options(tmp_path):
    f = tmp_path / "fac.py"
    f.write_text("def make(gen=None, scale=1):\n    return ('made', gen, scale)\n")
    assert Registry("scorer", plugins="factory").build(f"{f}:make", gen="g", scale=3) == ("made", "g", 3)


def test_lookup_imports_only_up_to_the_module_that_registers_the_name(tmp_path, monkeypatch):
    for name, body in (
        ("reg_a", "from reg_hub import REG\nREG.register('a')(1)\n"),
        ("reg_b", "raise ImportError('b was imported')\n"),
    ):
        (tmp_path / f"{name}.py").write_text(body)
    (tmp_path / "reg_hub.py").write_text(
        "from ponder.registry import Registry\nREG = Registry('thing', modules=['reg_a', 'reg_b'])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import reg_hub

    assert reg_hub.REG.get("a") == 1  # reg_b, listed after, is not imported
    with pytest.raises(ImportError, match="b was imported"):
        reg_hub.REG.names()
