"""benchmarks/gpu_check.py in its --dry-run mode: the GPU script's code path, on a 2-layer model on
the CPU, so that it is known to run before a GPU is lent."""

import json

from benchmarks.gpu_check import main


def test_gpu_check_dry_run_writes_every_phase(tmp_path):
    out = tmp_path / "gpu_check.json"
    main(["--dry-run", "--out", str(out)])
    rec = json.loads(out.read_text())
    assert rec["mode"] == "dry-run" and rec["device"].startswith("cpu")
    assert rec["solve"]["generated_tokens"] > 0 and rec["beam"]["problems"] == 4 and rec["grpo"]["steps"] == 1
    assert all(rec[k]["seconds"] > 0 for k in ("build", "solve", "beam", "grpo"))
    (train,) = rec["train"]  # the training section (gpu_train.py): one variant in a dry run
    assert train["variant"] == "bf16+lora+ckpt" and 0 < train["trainable"] < train["params"]
    assert train["sft_s"] > 0 and train["grpo_s"] > 0 and train["sft_peak_gib"] is None
