"""Checkpoints fail loud: a damaged newest checkpoint (truncated, garbage, one flipped bit) falls
back to the previous intact one with a warning and the run still ends on the unbroken weights; a
`latest` that is missing, empty or wrong stops the run without touching metrics or checkpoints;
a kill during the final save resumes exactly; a resumed summary keeps its "before" accuracy."""

import json
import logging

import pytest
import torch
from train_fixtures import script_half_right, small_model

import ponder.train.checkpoint as checkpoint
from ponder.config import load_config
from ponder.gen.fake import FakeGenerator
from ponder.train.checkpoint import find_resume_point
from ponder.train.data import Example
from ponder.train.sft import SFTConfig, train_sft
from ponder.types import PonderError

EXAMPLES = [Example(f"<bos>{i}+1\n", f"<think>{i}+1={i + 1}</think>\n<answer>{i + 1}</answer>") for i in range(16)]


def _run(out, steps=4, save_every=2, **over):
    model, tok = small_model(seed=1)
    args = [
        f"run.out={out}",
        f"run.steps={steps}",
        f"run.save_every={save_every}",
        "run.progress=false",
        "batch_size=4",
        "optim.lr=3e-3",
        "eval_task=arithmetic",
        "eval.n=2",
        "eval.max_tokens=16",
    ]
    cfg = load_config(SFTConfig, None, args + [f"{k}={v}" for k, v in over.items()])
    summary = train_sft(cfg, model=model, tokenizer=tok, examples=EXAMPLES, generator=FakeGenerator(script_half_right))
    return model, summary


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def _steps(out):
    return [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]


def _truncate(p):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _garbage(p):
    p.write_bytes(b"\x00garbage" * 100)


def _flip_bit(p):
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))


@pytest.mark.parametrize("spoil", [_truncate, _garbage, _flip_bit])
@pytest.mark.parametrize("name", ["model.safetensors", "trainer_state.pt"])
def test_damaged_newest_checkpoint_falls_back_to_previous(tmp_path, caplog, spoil, name):
    unbroken, _ = _run(tmp_path / "a")
    _run(tmp_path / "b", steps=3)  # ckpt-2 and ckpt-3, latest -> ckpt-3
    spoil(tmp_path / "b" / "ckpt-000003" / name)
    with caplog.at_level(logging.WARNING):
        assert find_resume_point(tmp_path / "b").name == "ckpt-000002"
    assert "ckpt-000003" in caplog.text and name in caplog.text
    resumed, summary = _run(tmp_path / "b", save_every=1)  # resumes at step 2, saves 3 again and 4
    assert _same(unbroken, resumed) and summary["steps"] == 4
    assert (tmp_path / "b" / "ckpt-000003.replaced-1").is_dir()  # the damaged one is kept, not deleted
    assert _steps(tmp_path / "b") == _steps(tmp_path / "a") == [0, 1, 2, 3, 4, 4]  # 4 twice: step + eval


@pytest.mark.parametrize("latest", [None, "", "ckpt-000099\n", "garbage\n"])
def test_missing_empty_or_wrong_latest_stops_and_changes_nothing(tmp_path, latest):
    out = tmp_path / "r"
    _run(out)
    if latest is None:
        (out / "latest").unlink()
    else:
        (out / "latest").write_text(latest)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    metrics = (out / "metrics.jsonl").read_text()
    with pytest.raises(PonderError, match="latest is .*Nothing was changed"):
        _run(out)
    assert (out / "metrics.jsonl").read_text() == metrics
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_metrics_without_any_checkpoint_is_an_error_not_a_wipe(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0}\n')
    with pytest.raises(PonderError, match="latest is missing"):
        _run(out)
    assert (out / "metrics.jsonl").read_text() == '{"step": 1, "loss": 2.0}\n'


def test_every_checkpoint_damaged_is_an_error(tmp_path):
    _run(tmp_path, steps=4)
    for ck in ("ckpt-000002", "ckpt-000004"):
        _garbage(tmp_path / ck / "trainer_state.json")
    with pytest.raises(PonderError, match="no intact checkpoint"):
        _run(tmp_path)


def test_resume_off_refuses_to_overwrite_an_earlier_run(tmp_path):
    _run(tmp_path, steps=2)
    with pytest.raises(PonderError, match="run.resume is off"):
        _run(tmp_path, steps=2, **{"run.resume": "false"})
    assert (tmp_path / "ckpt-000002").is_dir() and _steps(tmp_path) == [0, 1, 2, 2]


def test_kill_during_final_save_resumes_exactly_and_keeps_before(tmp_path, monkeypatch):
    unbroken, whole = _run(tmp_path / "a", steps=3)
    real_seal = checkpoint.seal

    def killed_at_step_3(folder):
        if folder.name.endswith("ckpt-000003"):
            raise KeyboardInterrupt("killed during the final save")
        real_seal(folder)

    monkeypatch.setattr(checkpoint, "seal", killed_at_step_3)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "b", steps=3)
    monkeypatch.setattr(checkpoint, "seal", real_seal)
    assert (tmp_path / "b" / "latest").read_text().strip() == "ckpt-000002"
    resumed, summary = _run(tmp_path / "b", steps=3)
    assert _same(unbroken, resumed)
    assert summary["before"] == whole["before"] and summary["before"]["n"] == 2
    assert _steps(tmp_path / "b") == _steps(tmp_path / "a")


def test_final_save_at_an_already_saved_step_rewrites_nothing(tmp_path, monkeypatch):
    sealed = []
    real_seal = checkpoint.seal
    monkeypatch.setattr(checkpoint, "seal", lambda folder: (sealed.append(folder.name), real_seal(folder)))
    _run(tmp_path, steps=4, save_every=2)
    assert sealed == [".tmp-ckpt-000002", ".tmp-ckpt-000004"]  # the final save found step 4 saved
