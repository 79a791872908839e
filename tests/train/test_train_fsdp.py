"""FSDP2 (train.parallel=fsdp): two gloo processes on loopback with sharded parameters give the
single-process SFT, GRPO and DPO curves of the same global batch, hold half the parameters each,
write checkpoints that resume with and without FSDP at another world size, and sample live
rollouts from gathered weights (bf16 + gradient checkpointing) exactly as DDP does. Global group
statistics (reward_std) are computed from sums over ranks. The two-process runs take 20-60 s on
the loaded 2-core machine, so they are marked slow; the pieces are tested fast."""

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from test_train_ddp import _close, _rows, _run  # noqa: E402

from ponder.train.common import LoRAConfig, TrainConfig  # noqa: E402
from ponder.train.distributed import Dist  # noqa: E402
from ponder.train.fsdp import check_supported, decoder_layers, to_indexed, to_named  # noqa: E402
from ponder.types import PonderError  # noqa: E402

FSDP = ["train.parallel=fsdp"]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["sft", "grpo", "dpo"])
def test_fsdp_two_processes_match_one(tmp_path, method):
    steps = 3
    _run(method, tmp_path / "one", steps, 1)
    _run(method, tmp_path / "two", steps, 2, FSDP)
    one, two = _rows(tmp_path / "one"), _rows(tmp_path / "two")
    extra = {"grpo": ("kl", "entropy", "reward_mean", "reward_std"), "dpo": ("margin", "pref_acc"), "sft": ()}[method]
    for key in ("loss", "grad_norm", *extra):
        assert _close([r[key] for r in one], [r[key] for r in two]), (key, one, two)
    full = json.loads((tmp_path / "one" / "params-rank0.json").read_text())["local"]
    shards = [json.loads((tmp_path / "two" / f"params-rank{r}.json").read_text())["local"] for r in (0, 1)]
    assert sum(shards) == full and max(shards) <= full / 2 * 1.01, (full, shards)  # dim-0 shards: ~half each
    config = json.loads((tmp_path / "two" / f"ckpt-{steps:06d}" / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]  # a plain HF folder, not the FSDP class


@pytest.mark.slow
def test_fsdp_checkpoints_resume_without_fsdp_and_back(tmp_path):
    _run("sft", tmp_path / "unbroken", 4, 1)
    _run("sft", tmp_path / "from_fsdp", 2, 2, FSDP)
    _run("sft", tmp_path / "from_fsdp", 4, 1)
    _run("sft", tmp_path / "to_fsdp", 2, 1)
    _run("sft", tmp_path / "to_fsdp", 4, 2, FSDP)
    a = _rows(tmp_path / "unbroken")
    for name, sizes in (("from_fsdp", [2, 2, 1, 1]), ("to_fsdp", [1, 1, 2, 2])):
        b = _rows(tmp_path / name)
        assert [r["world_size"] for r in b] == sizes
        assert _close([r["loss"] for r in a], [r["loss"] for r in b]), (name, a, b)
        assert [r["epoch"] for r in a] == [r["epoch"] for r in b]


@pytest.mark.slow
def test_fsdp_live_rollouts_bf16_checkpointing_match_ddp(tmp_path):
    """Rollouts sampled from the gathered policy (ranks decode different lengths with no
    collective per token), held-out evaluation on rank 0, bf16 autocast and checkpointing."""
    keys = ["train.precision=bf16", "train.grad_checkpointing=true", "eval.n=4", "eval.every=1"]
    _run("grpo-live", tmp_path / "ddp", 2, 2, keys)
    _run("grpo-live", tmp_path / "fsdp", 2, 2, keys + FSDP)
    d, f = _rows(tmp_path / "ddp"), _rows(tmp_path / "fsdp")
    assert [r["response_len"] for r in d] == [r["response_len"] for r in f]  # the same samples
    for key in ("loss", "grad_norm", "kl", "reward_mean"):
        assert _close([r[key] for r in d], [r[key] for r in f]), (key, d, f)
    assert d[0]["grad_norm"] > 0  # the reward varies, so the policy does move
    assert json.loads((tmp_path / "fsdp" / "summary.json").read_text())["after"]["n"] == 4


def _moments_worker(rank: int, port: int, out: str) -> None:
    import os

    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.set_num_threads(1)
    mine = torch.tensor([[0.0, 0.0, 0.0, 0.0]]) if rank == 0 else torch.tensor([[1.0, 1.0, 1.0, float("nan")]])
    mean, std = Dist(rank=rank, world=2).moments(mine)
    Path(out, f"{rank}.json").write_text(json.dumps([mean, std]))
    dist.destroy_process_group()


def test_group_statistics_are_global_not_a_mean_of_ranks(tmp_path):
    """Rank 0 holds rewards 0,0,0,0 and rank 1 holds 1,1,1,(none): each rank's std is 0, the
    batch's is not."""
    from test_train_ddp import _free_port

    torch.multiprocessing.spawn(_moments_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    every = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    for rank in (0, 1):
        mean, std = json.loads((tmp_path / f"{rank}.json").read_text())
        assert mean == pytest.approx(3 / 7, rel=1e-12) and std == pytest.approx(float(every.std()), rel=1e-6)
    assert Dist().moments(torch.tensor([2.0, float("nan"), 4.0])) == pytest.approx((3.0, 2**0.5))


def test_optimizer_state_keys_round_trip():
    named = {"state": {"b": {"step": 1}, "a": {"step": 2}}, "param_groups": [{"lr": 0.1, "params": ["a", "b"]}]}
    idx = to_indexed(named, ["a", "b"])
    assert idx == {"state": {1: {"step": 1}, 0: {"step": 2}}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]}
    assert to_named(idx, ["a", "b"]) == named


def test_what_fsdp_does_not_combine_with_is_a_clear_error():
    with pytest.raises(PonderError, match="train.lora"):
        check_supported(TrainConfig(parallel="fsdp", lora=LoRAConfig(r=4)), None)
    with pytest.raises(PonderError, match="fp16"):
        check_supported(TrainConfig(parallel="fsdp", precision="fp16"), None)
    with pytest.raises(PonderError, match="parameter groups"):
        check_supported(TrainConfig(parallel="fsdp"), [{"params": []}])
    with pytest.raises(PonderError, match="no decoder layer"):
        decoder_layers(torch.nn.Linear(2, 2))
    assert not Dist(parallel="fsdp").sharded and Dist(world=2, parallel="fsdp").sharded  # one process: plain


def test_units_are_the_decoder_layers():
    from train_fixtures import small_model

    model, _ = small_model()
    assert [type(m).__name__ for m in decoder_layers(model)] == ["LlamaDecoderLayer"]
