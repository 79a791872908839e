"""`ponder data` end to end on the tiny reasoner: rollouts, filters, card, resume, and the output
fed to `ponder train sft` for one step."""

import json

import pytest

from ponder.cli import main
from ponder.io import read_jsonl

FIELDS = ["problem_id", "task", "question", "answer", "prompt", "response", "correct", "score", "cost", "meta"]


@pytest.mark.slow  # ~20 s alone on the tiny reasoner; a minute on the shared machine
def test_ponder_data_resumes_and_feeds_sft(tmp_path, monkeypatch):
    out = tmp_path / "d"
    args = ["data", "--task=arithmetic", "--level=1", "--n=3", "--k=3", "--batch=2", "--max-tokens=64",
            "--max-pass-rate=1", "--quiet", f"--out={out}"]  # fmt: skip
    assert main(args) == 0
    rollouts = read_jsonl(out / "rollouts.jsonl")
    assert len(rollouts) == 9 and list(rollouts[0]) == FIELDS
    kept = read_jsonl(out / "data.jsonl")
    assert kept and all(r["correct"] and list(r) == FIELDS for r in kept)
    # one record schema (ponder/records.py): `answer` is the reference, the model's answer is meta.parsed
    from ponder.tasks import make_problems

    refs = {p.id: p.answer for p in make_problems("arithmetic", 3, 1, 0)}
    assert all(r["answer"] == refs[r["problem_id"]] and "parsed" in r["meta"] for r in rollouts)
    card = json.loads((out / "data_card.json").read_text())
    assert [c["filter"] for c in card["filters"]][:2] == ["correct", "pass_rate"]
    assert card["filters"][0]["removed"] == sum(not r["correct"] for r in rollouts)
    assert card["filters"][-1]["after"] == len(kept) and "| correct |" in (out / "data_card.md").read_text()

    # a kill mid-problem: the last problem's records are cut; the rerun samples only that problem
    lines = (out / "rollouts.jsonl").read_text().splitlines(keepends=True)
    (out / "rollouts.jsonl").write_text("".join(lines[:7]) + lines[7][:10])
    calls = []
    import ponder.data.rollouts as ro

    real = ro.sample_chunk
    monkeypatch.setattr(ro, "sample_chunk", lambda gen, chunk, *a: calls.append(len(chunk)) or real(gen, chunk, *a))
    assert main(args) == 0
    assert calls == [1] and len(read_jsonl(out / "rollouts.jsonl")) == 9
    assert read_jsonl(out / "rollouts.jsonl")[:6] == rollouts[:6]

    # another sampling setup into the same folder would mix rollouts: refused
    assert main([*args, "--k=2"]) == 2

    sft = ["train", "sft", f"--data.path={out / 'data.jsonl'}", f"--run.out={tmp_path / 's'}", "--run.steps=1",
           "--run.progress=false", "--run.threads=1", "--batch_size=2"]  # fmt: skip
    assert main(sft) == 0
    assert (tmp_path / "s" / "ckpt-000001" / "model.safetensors").is_file()
    # and `ponder verify` re-checks the records against their reference: every kept one verifies
    assert main(["verify", f"--input={out / 'data.jsonl'}", f"--output={tmp_path / 'v.jsonl'}"]) == 0
    assert all(r["correct"] for r in read_jsonl(tmp_path / "v.jsonl"))
    wrong = [{**r, "response": "<think>1</think> <answer>-1</answer>"} for r in rollouts]
    (tmp_path / "w.jsonl").write_text("".join(json.dumps(r) + "\n" for r in wrong))
    assert main(["verify", f"--input={tmp_path / 'w.jsonl'}", f"--output={tmp_path / 'w_out.jsonl'}"]) == 0
    assert not any(r["correct"] for r in read_jsonl(tmp_path / "w_out.jsonl"))


def test_ponder_data_bad_input_fails_before_loading(tmp_path, capsys):
    assert main(["data", "--task=arithmetic", f"--out={tmp_path}", "--filters=correct,dedupe"]) == 2
    assert "unknown data filter 'dedupe'" in capsys.readouterr().err
    assert main(["data", f"--out={tmp_path}"]) == 2
    assert main(["data", "--task=arithmetic", "--min-pass-rate=0.8", "--max-pass-rate=0.2"]) == 2
    assert not any(tmp_path.iterdir())
