"""LoRA through peft on the shared loop: only adapters train, the adapter-off reference is the
base model exactly, checkpoints hold only adapters (and resume exactly), an adapter folder is
accepted as a model, and merge -> load gives the same greedy output as base + adapters."""

import json

import pytest
import torch
from train_fixtures import answer_is_one, script_half_right, small_model

pytest.importorskip("peft")

from ponder.config import load_config  # noqa: E402
from ponder.gen import load_generator  # noqa: E402
from ponder.gen.fake import FakeGenerator  # noqa: E402
from ponder.gen.hf import HFGenerator  # noqa: E402
from ponder.models.load import load_causal_lm  # noqa: E402
from ponder.train.batch import collate, encode_example, forward_logprobs  # noqa: E402
from ponder.train.data import Example  # noqa: E402
from ponder.train.grpo import GRPOConfig, train_grpo  # noqa: E402
from ponder.train.lora import merge  # noqa: E402
from ponder.train.session import Session  # noqa: E402
from ponder.train.sft import SFTConfig, train_sft  # noqa: E402
from ponder.types import SamplingParams  # noqa: E402

LORA = ["train.lora.r=4", "train.lora.alpha=8"]


@pytest.fixture
def base_dir(tmp_path):
    model, tok = small_model()
    model.save_pretrained(tmp_path / "base")
    tok.save_pretrained(tmp_path / "base")
    return tmp_path / "base"


def _acc(problems, responses):
    return [r == 1.0 for r in answer_is_one(problems, responses)]


def _grpo(base_dir, out, steps=3, extra=()):
    args = [f"run.out={out}", f"run.steps={steps}", "run.progress=false", "run.save_every=1", f"model.name={base_dir}"]
    args += ["data.task=arithmetic", "data.n=16", "rollout.prompts_per_step=2", "rollout.group_size=4"]
    args += ["rollout.max_tokens=48", "optim.lr=1e-2", "algo.kl_coef=0.1", *LORA, *extra]
    cfg = load_config(GRPOConfig, None, args)
    return train_grpo(cfg, generator=FakeGenerator(script_half_right), reward_fn=answer_is_one, accuracy_fn=_acc)


def _live(out):
    """The trained policy as a live peft model: a session resumed from the run's newest checkpoint."""
    cfg = load_config(GRPOConfig, None, [f"run.out={out}", "run.progress=false", f"model.name={_base_of(out)}", *LORA])
    sess = Session.open(cfg.model, cfg.optim, cfg.run, total_steps=1, train=cfg.train)
    sess.resume({})
    return sess


def _base_of(out):
    return json.loads((out / "ckpt-000003" / "adapter_config.json").read_text())["base_model_name_or_path"]


def test_only_adapters_train_and_checkpoints_hold_only_adapters(tmp_path, base_dir):
    out = tmp_path / "run"
    _grpo(base_dir, out)
    ck = out / "ckpt-000003"
    assert (ck / "adapter_model.safetensors").is_file() and not (ck / "model.safetensors").is_file()
    assert _base_of(out) == str(base_dir.resolve())
    sess = _live(out)
    base, _ = load_causal_lm(str(base_dir))
    base_w = dict(base.named_parameters())
    changed = 0
    for name, p in sess.module.named_parameters():
        if "lora_" in name:
            changed += "lora_B" in name and bool(p.abs().sum() > 0)  # B starts at zero
        else:
            key = name.replace("base_model.model.", "").replace(".base_layer", "")
            assert torch.equal(p, base_w[key]), name
    assert changed == 4  # q, k, v, o of the one layer


def test_reference_with_adapters_off_is_the_base(tmp_path, base_dir):
    out = tmp_path / "run"
    _grpo(base_dir, out)
    sess = _live(out)
    ref = sess.load_ref(load_config(GRPOConfig, None, []).model)
    tok = sess.tokenizer
    batch = collate([encode_example(tok, "3+4=\n", "<think>3+4=7</think>\n<answer>7</answer>", eos=True)], 0)
    base, _ = load_causal_lm(str(base_dir))
    with torch.no_grad():
        want = forward_logprobs(base, batch)[0]
        got = forward_logprobs(ref, batch)[0]
        policy = forward_logprobs(sess.model, batch)[0]
    assert torch.allclose(got, want, atol=1e-6)
    assert not torch.allclose(policy, want, atol=1e-4)  # the adapters do change the policy


def test_merge_and_adapter_folder_give_the_same_greedy_output(tmp_path):
    """On the built-in tiny reasoner (a base named by its built-in name), after LoRA SFT that
    changes its greedy answers."""
    out = tmp_path / "run"
    examples = [Example(f"{i}+{i}=\n", "<think>ok</think>\n<answer>42</answer>") for i in range(16)]
    args = [f"run.out={out}", "run.steps=4", "run.progress=false", "run.save_every=0", "eval.n=0"]
    args += ["model.name=tiny", "batch_size=8", "optim.lr=3e-2", *LORA, "train.lora.targets=[all-linear]"]
    train_sft(load_config(SFTConfig, None, args), examples=examples)
    ck = out / "ckpt-000004"
    assert json.loads((ck / "adapter_config.json").read_text())["base_model_name_or_path"] == "tiny"
    params = SamplingParams(n=1, temperature=0.0, max_tokens=40)
    prompts = ["12+7=\n", "3*4=\n", "9-5=\n"]
    cfg = load_config(
        SFTConfig, None, [f"run.out={out}", "run.progress=false", *LORA, "train.lora.targets=[all-linear]"]
    )
    sess = Session.open(cfg.model, cfg.optim, cfg.run, total_steps=1, train=cfg.train)
    sess.resume({})
    live = HFGenerator.from_model(sess.module, sess.tokenizer)
    live.fast = False
    want = [g[0].text for g in live.generate(prompts, params)]
    base = [g[0].text for g in load_generator("tiny").generate(prompts, params)]
    assert base != want  # the adapters change greedy output, so ignoring them would fail below
    merged = merge(out, tmp_path / "merged")
    assert (merged / "model.safetensors").is_file() and not (merged / "adapter_config.json").exists()
    for model in (str(merged), str(ck)):  # a plain folder, and an adapter folder as --model
        got = [g[0].text for g in load_generator(model).generate(prompts, params)]
        assert got == want, model


def test_lora_sft_resumes_exactly(tmp_path, base_dir):
    examples = [Example(f"{i}+1=\n", f"<answer>{i + 1}</answer>") for i in range(32)]

    def run(out, steps):
        args = [f"run.out={out}", f"run.steps={steps}", "run.progress=false", "run.save_every=1", "eval.n=0"]
        args += [f"model.name={base_dir}", "batch_size=4", "micro_batch=2", "optim.lr=1e-2", *LORA]
        args += ["train.grad_checkpointing=true"]
        train_sft(load_config(SFTConfig, None, args), examples=examples)

    run(tmp_path / "a", 3)
    run(tmp_path / "b", 2)
    run(tmp_path / "b", 3)
    from safetensors.torch import load_file

    a = load_file(str(tmp_path / "a" / "ckpt-000003" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "b" / "ckpt-000003" / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_unknown_lora_target_is_a_clear_error(tmp_path, base_dir):
    from ponder.types import PonderError

    with pytest.raises(PonderError, match="linear modules here"):
        _grpo(base_dir, tmp_path / "x", extra=["train.lora.targets=[nope]"])


def test_merged_weights_are_the_adapted_model_under_plain_names(tmp_path, base_dir):
    """What a vLLM sampler is sent during LoRA training: base + adapters merged, plain names,
    the live model untouched; a plain model loading them computes what the adapted one does."""
    from ponder.gen.synced import SyncedEngine
    from ponder.train.lora import merged_weights

    _grpo(base_dir, tmp_path / "run")
    sess = _live(tmp_path / "run")
    peft_model = sess.module.eval()
    weights = merged_weights(peft_model)
    plain, _ = load_causal_lm(str(base_dir))
    assert set(weights) == set(plain.state_dict())  # no lora_ or base_layer names
    assert any(not torch.equal(weights[k], plain.state_dict()[k]) for k in weights)  # adapters moved something
    plain.load_state_dict(weights)
    ids = torch.tensor([[1, 5, 9, 12, 7]])
    with torch.no_grad():
        assert torch.allclose(plain(input_ids=ids).logits, peft_model(input_ids=ids).logits, atol=1e-5)

    class Engine:  # records what SyncedEngine pushes
        name, n_params, pushed = "fake", 0, []

        def load_weights(self, items):
            self.pushed.append(dict(items))

    synced = SyncedEngine(peft_model, Engine(), weights=merged_weights)
    synced.sync(force=True)
    assert set(Engine.pushed[0]) == set(plain.state_dict())
