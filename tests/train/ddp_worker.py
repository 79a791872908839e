"""One training run for the data-parallel tests: `python ddp_worker.py sft|grpo|grpo-live|dpo OUT
STEPS [KEY=VALUE ...]`, alone or under torchrun (then each process is one rank); the extra keys
go on top of the config (e.g. train.parallel=fsdp). Model: the tiny test Llama; GRPO rollouts and
DPO's sampled pairs come from the scripted FakeGenerator, so every rank count sees the same
responses (grpo-live samples the live policy instead). Each rank writes the parameter elements
it holds to OUT/params-rank{R}.json."""

import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from train_fixtures import answer_is_one, script_half_right, small_model  # noqa: E402

from ponder.config import load_config  # noqa: E402
from ponder.gen.fake import FakeGenerator  # noqa: E402
from ponder.train.data import Example  # noqa: E402
from ponder.train.distributed import shutdown  # noqa: E402
from ponder.train.dpo import DPOConfig, train_dpo  # noqa: E402
from ponder.train.fsdp import local_numel  # noqa: E402
from ponder.train.grpo import GRPOConfig, train_grpo  # noqa: E402
from ponder.train.sft import SFTConfig, train_sft  # noqa: E402

EXAMPLES = [Example(f"{i}+{i}=\n", f"<think>{i}+{i}={2 * i}</think>\n<answer>{2 * i}</answer>") for i in range(64)]


def skewed(prompt: str, i: int) -> str:
    """Right ("1") on some prompts far more often than on others: per-rank reward spreads differ
    from the global one."""
    right = (sum(map(ord, prompt)) + i) % (2 if "3" in prompt else 5) == 0
    return f"<think>{i}</think>\n<answer>{1 if right else 2}</answer>"


def short_is_better(prompts, completions, **columns):
    """A dense reward for live rollouts of an untrained model: shorter responses score higher."""
    return [1.0 / (1 + len(c)) for c in completions]


def rm_traces() -> list:
    """Step-labelled traces whose labelled-step counts differ (some steps unlabelled), so a
    per-rank normaliser would give another loss than the global one."""
    from ponder.rm.labels import LabeledTrace
    from ponder.types import Problem

    good = ["3*4=12,2+12\n", "2+12=14\n", "<answer>14</answer>"]
    bad = ["3*4=13,2+13\n", "2+13=15\n", "<answer>15</answer>"]
    out = []
    for i in range(16):
        q = Problem(id=f"q{i}", task="arithmetic", question=f"2+3*4=? #{i}", answer="14")
        gap = [1.0, None, 1.0] if i % 3 else [1.0, 1.0, 1.0]
        out.append(LabeledTrace(f"g{i}", q, good, gap, "exact", 1.0))
        out.append(LabeledTrace(f"b{i}", q, bad, [0.0, None, None] if i % 2 else [1.0, 0.0, 0.0], "exact", 0.0))
    return out


def main(method: str, out: str, steps: int, extra: list[str]) -> None:
    torch.set_num_threads(1)
    run = [f"run.out={out}", f"run.steps={steps}", "run.progress=false", "run.save_every=1", "run.threads=1"]
    model, tok = small_model()
    acc = lambda p, r: [x == 1.0 for x in answer_is_one(p, r)]  # noqa: E731
    if method == "dpo":
        args = ["data.task=arithmetic", "data.n=8", "k=4", "max_tokens=48", "batch_size=4", "micro_batch=1"]
        cfg = load_config(DPOConfig, None, run + args + ["optim.lr=3e-3", "eval.n=0", *extra])
        train_dpo(cfg, model=model, tokenizer=tok, generator=FakeGenerator(script_half_right), accuracy_fn=acc)
    elif method == "sft":
        cfg = load_config(SFTConfig, None, run + ["batch_size=8", "micro_batch=2", "eval.n=0", "optim.lr=3e-3", *extra])
        train_sft(cfg, examples=EXAMPLES, model=model, tokenizer=tok)
    elif method.startswith("grpo"):
        args = ["data.task=arithmetic", "data.n=16", "rollout.prompts_per_step=4", "rollout.group_size=4"]
        args += ["rollout.max_tokens=48", "rollout.micro_batch=4", "optim.lr=1e-3", "algo.kl_coef=0.1"]
        args += ["algo.epochs=2", "eval.n=0"]
        cfg = load_config(GRPOConfig, None, run + args + extra)
        gen, reward = (None, short_is_better) if method == "grpo-live" else (FakeGenerator(skewed), answer_is_one)
        train_grpo(cfg, model=model, tokenizer=tok, generator=gen, reward_fn=reward, accuracy_fn=acc)
    elif method == "prm":
        from ponder.rm.model import from_backbone
        from ponder.rm.train import RMTrainConfig, train_reward_model

        model = from_backbone((model, tok), kind="prm")
        args = ["batch_size=4", "val_frac=0.25", "val_every=2", "optim.lr=3e-3", *extra]
        train_reward_model(model, rm_traces(), load_config(RMTrainConfig, None, run + args))
    elif method == "base":
        from ponder.train.base import BaseConfig, train_base

        args = ["batch_size=8", "bucket_batches=2", "layers=1", "hidden=32", "run.max_minutes=0", "reflect=0.5"]
        cfg = load_config(BaseConfig, None, run + args + extra)
        cfg.tasks = {"arithmetic": 0.5, "countdown": 0.5}
        train_base(cfg)
    rank = int(os.environ.get("RANK", "0"))
    if method != "base":
        Path(out, f"params-rank{rank}.json").write_text(json.dumps({"local": local_numel(model)}))
    shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:])
