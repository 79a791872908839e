"""SFT / distillation: loss on the response only, packing equals no packing, a few steps lower
the loss, and bad data fails with a clear message before training."""

import json

import pytest
import torch
from train_fixtures import small_model

from ponder.config import load_config
from ponder.gen.fake import FakeGenerator
from ponder.train.batch import collate, encode_example, forward_logprobs, pack
from ponder.train.data import Example, load_sft
from ponder.train.distill import sample_verified
from ponder.train.sft import SFTConfig, sft_loss_backward, train_sft
from ponder.types import PonderError, Problem


def test_loss_mask_covers_response_only():
    _, tok = small_model()
    seq = encode_example(tok, "<bos>1+2\n", "<answer>3</answer>", eos=True)
    b = collate([seq], tok.pad_token_id)
    targets = b.targets[0][b.loss_mask[0] > 0].tolist()
    assert tok.decode(targets[:-1]) == "<answer>3</answer>" and targets[-1] == tok.eos_token_id


def test_packing_gives_same_logprobs_as_padding():
    model, tok = small_model()
    seqs = [encode_example(tok, f"<bos>{i}+{i}\n", f"<answer>{2 * i}</answer>", eos=True) for i in range(1, 6)]
    a, b = collate(seqs, 0), pack(seqs, 0, max_len=64)
    assert b.input_ids.shape[0] < a.input_ids.shape[0]
    la, _ = forward_logprobs(model, a)
    lb, _ = forward_logprobs(model, b)
    assert torch.allclose((la * a.loss_mask).sum(), (lb * b.loss_mask).sum(), atol=1e-4)
    assert a.loss_mask.sum() == b.loss_mask.sum()


def test_sft_micro_batches_equal_full_batch():
    model, tok = small_model()
    seqs = [encode_example(tok, f"<bos>{i}*3\n", f"<think>{i}*3={3 * i}</think>", eos=True) for i in range(8)]
    grads = []
    for micro in (8, 2):
        model.zero_grad()
        sft_loss_backward(model, seqs, micro_batch=micro, packing=False, max_len=64, pad_id=0)
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)


def test_sft_lowers_loss_and_saves_hf_checkpoint(tmp_path):
    model, tok = small_model()
    examples = [Example(f"<bos>{i}+1\n", f"<think>{i}+1={i + 1}</think>\n<answer>{i + 1}</answer>") for i in range(16)]
    cfg = load_config(
        SFTConfig,
        None,
        [
            f"run.out={tmp_path}",
            "run.steps=12",
            "run.progress=false",
            "batch_size=8",
            "micro_batch=4",
            "optim.lr=3e-3",
            "run.save_every=0",
        ],
    )
    before = [p.detach().clone() for p in model.parameters()]
    train_sft(cfg, model=model, tokenizer=tok, examples=examples)
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in rows)
    assert rows[-1]["loss"] < rows[0]["loss"]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ck = tmp_path / "ckpt-000012"
    assert AutoModelForCausalLM.from_pretrained(ck) is not None and AutoTokenizer.from_pretrained(ck) is not None


def test_sft_data_missing_fields_is_a_clear_error(tmp_path):
    _, tok = small_model()
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps({"question": "1+1", "response": "2"}) + "\n" + json.dumps({"question": "2+2"}) + "\n")
    with pytest.raises(PonderError, match=r"d.jsonl:2: .*'response'"):
        load_sft(p, tok)
    p.write_text(json.dumps({"response": "2"}) + "\n")
    with pytest.raises(PonderError, match="'prompt' or 'question'"):
        load_sft(p, tok)


def test_sample_verified_keeps_only_correct_and_hint_is_not_kept():
    problems = [
        Problem(id="a", task="t", question="q1", answer="1"),
        Problem(id="b", task="t", question="q2", answer="5"),
    ]
    gen = FakeGenerator(lambda prompt, i: f"<answer>{i}</answer>")

    def acc(ps, rs):
        return [f"<answer>{p.answer}</answer>" == r for p, r in zip(ps, rs)]

    recs, rates = sample_verified(gen, problems, acc, k=3, temperature=1.0, max_tokens=50, seed=0, hint=True)
    assert recs == [{"id": "a", "question": "q1", "response": "<answer>1</answer>"}]
    assert rates == {"a": 1 / 3, "b": 0.0}
    assert "answer is 1" in gen.calls[0][0][0]


def test_overlong_examples_are_an_error_or_dropped_and_counted_never_cut(tmp_path):
    model, tok = small_model()
    short = Example("<bos>1+1\n", "<answer>2</answer>")
    long = Example("<bos>" + "9+" * 40 + "9\n", "<think>" + "x" * 60 + "</think>\n<answer>369</answer>")
    examples = [short, long, short, short]
    common = [f"run.out={tmp_path / 'a'}", "run.steps=1", "run.progress=false", "batch_size=2", "max_len=48"]
    with pytest.raises(
        PonderError, match=r"record 2 of the given examples has \d+ tokens .* > max_len=48.*overlong=drop"
    ):
        train_sft(load_config(SFTConfig, None, common), model=model, tokenizer=tok, examples=examples)
    assert not (tmp_path / "a" / "metrics.jsonl").exists()
    common[0] = f"run.out={tmp_path / 'b'}"
    summary = train_sft(load_config(SFTConfig, None, [*common, "data.overlong=drop"]), model=model, tokenizer=tok,
                        examples=examples)  # fmt: skip
    assert summary["examples"] == 3 and summary["overlong_dropped"] == 1
