"""One training run for the data-parallel tests: `python ddp_worker.py sft|grpo|dpo OUT STEPS`,
alone or under torchrun (then each process is one rank). Model: the tiny test Llama; GRPO
rollouts and DPO's sampled pairs come from the scripted FakeGenerator, so every rank count sees
the same responses."""

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
from ponder.train.grpo import GRPOConfig, train_grpo  # noqa: E402
from ponder.train.sft import SFTConfig, train_sft  # noqa: E402

EXAMPLES = [Example(f"{i}+{i}=\n", f"<think>{i}+{i}={2 * i}</think>\n<answer>{2 * i}</answer>") for i in range(64)]


def main(method: str, out: str, steps: int) -> None:
    torch.set_num_threads(1)
    run = [f"run.out={out}", f"run.steps={steps}", "run.progress=false", "run.save_every=1", "run.threads=1"]
    model, tok = small_model()
    acc = lambda p, r: [x == 1.0 for x in answer_is_one(p, r)]  # noqa: E731
    if method == "dpo":
        args = ["data.task=arithmetic", "data.n=8", "k=4", "max_tokens=48", "batch_size=4", "micro_batch=1"]
        cfg = load_config(DPOConfig, None, run + args + ["optim.lr=3e-3", "eval.n=0"])
        train_dpo(cfg, model=model, tokenizer=tok, generator=FakeGenerator(script_half_right), accuracy_fn=acc)
    elif method == "sft":
        cfg = load_config(SFTConfig, None, run + ["batch_size=8", "micro_batch=2", "eval.n=0", "optim.lr=3e-3"])
        train_sft(cfg, examples=EXAMPLES, model=model, tokenizer=tok)
    else:
        args = ["data.task=arithmetic", "data.n=16", "rollout.prompts_per_step=4", "rollout.group_size=4"]
        args += ["rollout.max_tokens=48", "rollout.micro_batch=4", "optim.lr=1e-3", "algo.kl_coef=0.1"]
        args += ["algo.epochs=2", "eval.n=0"]
        cfg = load_config(GRPOConfig, None, run + args)
        gen = FakeGenerator(script_half_right)
        train_grpo(cfg, model=model, tokenizer=tok, generator=gen, reward_fn=answer_is_one, accuracy_fn=acc)
    shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
