"""The executor seam without a cluster: the local executor's contract, the options on the
command line, and the one-line errors when Ray is missing or an address does not answer."""

import sys

import pytest

from ponder.executor import ExecutorOptions, LocalExecutor, make_executor
from ponder.types import PonderError


def _count(item, cache):
    cache["calls"] = cache.get("calls", 0) + 1
    return item * 10, cache["calls"]


def test_local_map_keeps_order_reports_each_and_shares_its_cache():
    seen = []
    with LocalExecutor() as ex:
        out = ex.map(_count, [3, 1, 2], on_result=lambda i, r: seen.append(i))
    assert out == [(30, 1), (10, 2), (20, 3)]
    assert seen == [0, 1, 2]


def test_an_items_error_reaches_the_caller_as_itself():
    def boom(item, cache):
        raise PonderError(f"bad item {item}")

    with pytest.raises(PonderError, match="bad item 7"):
        LocalExecutor().map(boom, [7])


def test_unknown_executor_is_a_clear_error():
    with pytest.raises(PonderError, match="unknown executor 'slurm'; known: local, ray"):
        make_executor(ExecutorOptions(executor="slurm"))


def test_missing_ray_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    with pytest.raises(PonderError, match=r"needs Ray: pip install 'ponder\[ray\]'") as e:
        make_executor(ExecutorOptions(executor="ray"))
    assert "\n" not in str(e.value)


def test_an_address_that_does_not_answer_is_one_line(monkeypatch):
    pytest.importorskip("ray")
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    with pytest.raises(PonderError, match=f"no Ray cluster answers at 127.0.0.1:{port}") as e:
        make_executor(ExecutorOptions(executor="ray"))
    assert "\n" not in str(e.value)


def test_every_fanning_out_command_takes_the_executor_options():
    from ponder.cliargs import parse_cli
    from ponder.eval.grid_config import EvalConfig
    from ponder.rm.cli import LabelConfig
    from ponder.verify.cli import _parser

    cfg, _ = parse_cli(EvalConfig, ["--executor", "ray", "--ray-address", "10.0.0.1:6379"], prog="p", doc="")
    assert (cfg.executor, cfg.ray_address) == ("ray", "10.0.0.1:6379")
    cfg, _ = parse_cli(LabelConfig, ["--executor=ray", "--ray-cpus=3", "--out=x"], prog="p", doc="")
    assert (cfg.executor, cfg.ray_cpus) == ("ray", 3)
    args = _parser().parse_args(["--input", "a", "--output", "b", "--executor", "ray", "--ray-address", "h:1"])
    assert (args.executor, args.ray_address) == ("ray", "h:1")
