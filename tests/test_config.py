from dataclasses import dataclass, field
from typing import Literal

import pytest

from ponder.config import load_config
from ponder.types import PonderError


@dataclass
class Optim:
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.99])


@dataclass
class Cfg:
    steps: int = 10
    name: str = "x"
    loss: Literal["token", "seq"] = "token"
    kl: float | None = None
    optim: Optim = field(default_factory=Optim)


def test_yaml_and_dotted_overrides(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text("steps: 5\noptim:\n  lr: 0.01\n")
    cfg = load_config(Cfg, f, ["--optim.lr=3e-5", "kl=0.1", "--loss=seq"])
    assert cfg.steps == 5 and cfg.optim.lr == 3e-5 and cfg.kl == 0.1 and cfg.loss == "seq"
    assert cfg.optim.betas == [0.9, 0.99]


@pytest.mark.parametrize(
    "override, message",
    [
        ("--stpes=3", "Did you mean 'steps'"),
        ("--optim.lrr=1", "unknown config key optim.'lrr'"),
        ("--steps=abc", "must be an integer"),
        ("--steps=1.5", "must be an integer"),
        ("--loss=mean", "must be one of"),
        ("--optim.lr=fast", "must be a number"),
        ("--name.sub=1", "has no sub-keys"),
    ],
)
def test_overrides_reject_bad_keys_and_types(override, message):
    with pytest.raises(PonderError, match=message):
        load_config(Cfg, None, [override])


def test_yaml_unknown_key_and_bad_file(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text("steps: 5\nbogus: 1\n")
    with pytest.raises(PonderError, match="bogus"):
        load_config(Cfg, f)
    with pytest.raises(PonderError, match="not found"):
        load_config(Cfg, tmp_path / "missing.yaml")
    f.write_text("- a list\n")
    with pytest.raises(PonderError, match="mapping"):
        load_config(Cfg, f)
