"""benchmarks/gpu_train.py (the GPU check's training section) runs end to end in --dry-run on
the CPU: one variant with LoRA and checkpointing, so the script a GPU session runs is known to work."""

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("peft")
SCRIPT = Path(__file__).parents[2] / "benchmarks" / "gpu_train.py"


def test_gpu_train_dry_run(tmp_path):
    spec = importlib.util.spec_from_file_location("gpu_train", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "gpu_train.json"
    mod.main(["--dry-run", "--out", str(out), "--variants", "bf16+lora+ckpt"])
    row = json.loads(out.read_text())["rows"][0]
    assert row["variant"] == "bf16+lora+ckpt" and 0 < row["trainable"] < row["params"]
    assert row["sft_s"] > 0 and row["grpo_s"] > 0 and row["sft_peak_gib"] is None
