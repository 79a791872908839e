"""Speed against TRL: TRL's GRPOTrainer and ponder's GRPO on the same tiny model, the same
Countdown problems, the same group size, batch, learning rate, loss and number of steps, one after
the other in one process. Records seconds per step and reward per step side by side.

Matched settings: P prompts x G samples per step, temperature 1, max_tokens, lr, token-level
loss ("dapo" in TRL = ponder's token_mean), no KL (beta 0), clip 0.2, one optimisation epoch,
std-scaled group advantages, reward = verify/'s accuracy (1/0). Both use --threads torch threads
(1 by default: on a 2-core machine shared with other jobs, 2 threads ran 20-35x slower than 1).

Run: PYTHONPATH=. python benchmarks/train_trl_vs_ponder.py --steps 10 --out benchmarks/results/train_trl_vs_ponder.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from ponder.io import write_json
from ponder.models import resolve_model
from ponder.tasks import make_problems
from ponder.types import Problem


def run_trl(args, problems, prompts) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from ponder.integrations.trl import problems_dataset, to_trl

    rendered = dict(zip((p.id for p in problems), prompts))
    ds = problems_dataset(problems, prompt=lambda p: rendered[p.id])
    reward = to_trl("accuracy")  # the same verify/ reward ponder's run uses, through the TRL adapter

    times, rewards = [], []

    class Clock(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            self.t0 = time.perf_counter()

        def on_step_end(self, a, state, control, **kw):
            times.append(time.perf_counter() - self.t0)

        def on_log(self, a, state, control, logs=None, **kw):
            if logs and "reward" in logs:
                rewards.append(logs["reward"])

    tok = AutoTokenizer.from_pretrained(args.model_path)
    model = AutoModelForCausalLM.from_pretrained(args.model_path)
    cfg = GRPOConfig(
        output_dir=f"{args.workdir}/trl",
        max_steps=args.steps,
        per_device_train_batch_size=args.prompts * args.group,
        num_generations=args.group,
        max_completion_length=args.max_tokens,
        temperature=1.0,
        learning_rate=args.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        beta=0.0,
        loss_type="dapo",
        epsilon=0.2,
        scale_rewards="group",
        num_iterations=1,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        bf16=False,
        seed=args.seed,
        max_grad_norm=1.0,
        adam_beta2=0.99,
        weight_decay=0.0,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = GRPOTrainer(
        model=model, reward_funcs=reward, args=cfg, train_dataset=ds, processing_class=tok, callbacks=[Clock()]
    )
    t0 = time.perf_counter()
    trainer.train()
    return {"seconds_per_step": times, "reward": rewards, "total_s": time.perf_counter() - t0}


def run_ponder(args, problems) -> dict:
    from ponder.config import load_config
    from ponder.io import read_jsonl, write_jsonl
    from ponder.train.grpo import GRPOConfig, train_grpo

    path = f"{args.workdir}/problems.jsonl"
    write_jsonl(path, [p.to_dict() for p in problems])
    cfg = load_config(
        GRPOConfig,
        None,
        [
            f"model.name={args.model_path}",
            f"run.out={args.workdir}/ponder",
            "run.resume=false",
            f"run.steps={args.steps}",
            "run.save_every=0",
            "run.progress=false",
            f"run.seed={args.seed}",
            f"data.path={path}",
            f"data.n={len(problems)}",
            f"rollout.prompts_per_step={args.prompts}",
            f"rollout.group_size={args.group}",
            f"rollout.max_tokens={args.max_tokens}",
            f"optim.lr={args.lr}",
            "optim.betas=[0.9, 0.99]",
            "preset=grpo",
            "algo.kl_coef=0.0",
            "algo.loss_agg=token_mean",
            "reward=accuracy",
            f"run.threads={args.threads}",
        ],
    )
    t0 = time.perf_counter()
    train_grpo(cfg)
    rows = [r for r in read_jsonl(f"{args.workdir}/ponder/metrics.jsonl") if "step_s" in r]
    return {
        "seconds_per_step": [r["step_s"] for r in rows],
        "reward": [r["reward_mean"] for r in rows],
        "gen_s": [r["gen_s"] for r in rows],
        "train_s": [r["train_s"] for r in rows],
        "total_s": time.perf_counter() - t0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--task", default="countdown")
    ap.add_argument("--level", type=int, default=None)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--order", default="ponder,trl")
    ap.add_argument("--workdir", default="/tmp/trl_vs_ponder")
    ap.add_argument("--out", default="benchmarks/results/train_trl_vs_ponder.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    args.model_path = resolve_model(args.model)
    from transformers import AutoTokenizer

    from ponder.train.common import render_prompt

    tok = AutoTokenizer.from_pretrained(args.model_path)
    problems: list[Problem] = make_problems(args.task, args.prompts * args.steps, args.level, args.seed)
    prompts = [render_prompt(tok, p.question) for p in problems]
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs, no GPU, "
        f"torch threads {args.threads}",
        "settings": {k: v for k, v in vars(args).items()},
        "runs": {},
    }
    for name in args.order.split(","):
        load0 = os.getloadavg()
        t0 = time.perf_counter()
        result["runs"][name] = run_trl(args, problems, prompts) if name == "trl" else run_ponder(args, problems)
        result["runs"][name]["loadavg_before_after"] = [load0, os.getloadavg()]
        result["runs"][name]["wall_s"] = time.perf_counter() - t0
        print(name, json.dumps({k: v for k, v in result["runs"][name].items()}, default=str)[:600])
    write_json(args.out, result)


if __name__ == "__main__":
    main()
