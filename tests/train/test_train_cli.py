"""`ponder train grpo|sft` end to end through the CLI on a small random model folder, with the
real hf generator and verify/ rewards."""

import json

import pytest
from train_fixtures import small_model

from ponder.cli import main


@pytest.mark.slow  # ~5 s alone, ~30 s on the shared machine
def test_ponder_train_grpo_and_sft_cli(tmp_path, capsys):
    model, tok = small_model()
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    common = [f"--model.name={tmp_path / 'm'}", "--run.steps=1", "--run.progress=false", "--run.threads=1"]
    rc = main(
        [
            "train",
            "grpo",
            *common,
            f"--run.out={tmp_path / 'g'}",
            "--data.task=arithmetic",
            "--data.n=4",
            "--rollout.prompts_per_step=2",
            "--rollout.group_size=2",
            "--rollout.max_tokens=8",
            "--reward=gated_format_accuracy",
            "--log_rewards=[format]",
            "--eval.n=2",
            "--eval.max_tokens=8",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert '"before"' in out and '"after"' in out
    row = json.loads((tmp_path / "g" / "metrics.jsonl").read_text().splitlines()[1])
    assert row["step"] == 1 and "reward/format" in row
    data = tmp_path / "d.jsonl"
    data.write_text(
        "".join(json.dumps({"question": f"{i}+1", "response": f"<answer>{i + 1}</answer>"}) + "\n" for i in range(4))
    )
    assert main(["train", "sft", *common, f"--run.out={tmp_path / 's'}", f"--data.path={data}", "--batch_size=2"]) == 0
    assert (tmp_path / "s" / "ckpt-000001" / "model.safetensors").is_file()


def test_ponder_train_bad_recipe_exits_2(tmp_path, capsys):
    r = tmp_path / "r.yaml"
    r.write_text("rollout:\n  group_sise: 4\n")
    assert main(["train", "grpo", str(r)]) == 2
    assert "group_size" in capsys.readouterr().err
