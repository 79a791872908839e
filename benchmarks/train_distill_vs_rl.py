"""Distillation vs RL for a small model (DeepSeek-R1 section 4.1 in miniature): a smaller
student distilled from a stronger tiny teacher's verified traces, against the same student trained
with GRPO, both from the same start and with the same compute in model FLOPs (distill_budget.py).

Phases (each writes under --work and is skipped when its output exists):
  init     a small student (2 layers, d=96, ~0.3M parameters) trained with SFT on the task's
           reference traces, so that it starts weak but not at zero (--init-save-every keeps
           checkpoints; --start CKPT then makes one of them the start);
  init2    more of the same from that checkpoint (constant lr);
  teacher  K samples per problem from the teacher (the built-in tiny reasoner), kept when
           verified; its sampling FLOPs are charged to the distill arm;
  grpo     GRPO of the student for --grpo-steps steps (its groups' reward variance is logged);
  distill  SFT of the student on the teacher's traces for as many steps as spend the GRPO arm's
           FLOPs minus the teacher's (--minutes instead: the old equal-wall-time budget);
  report   greedy held-out accuracy of start / distilled / GRPO students and the teacher on the
           same problems (Wilson 95% CIs, per-problem flags, paired bootstrap of the differences),
           each arm's FLOPs and steps, and the share of GRPO groups with nonzero reward variance.

Run: PYTHONPATH=. python benchmarks/train_distill_vs_rl.py --phase all --grpo-steps 60
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

import torch

from ponder.config import load_config
from ponder.io import write_json, write_jsonl


def phase_init(a) -> None:
    from ponder.models.tiny.build import build_model
    from ponder.tasks import get_task, make_problems
    from ponder.train.sft import SFTConfig, train_sft

    task, rng = get_task(a.task), random.Random(0)
    recs = []
    for level in task.train_levels:
        for p in make_problems(a.task, a.init_examples // len(task.train_levels), level, seed=100):
            recs.append({"question": p.question, "response": task.trace(p, rng)})
    write_jsonl(f"{a.work}/init_traces.jsonl", recs)
    model, tok = build_model(
        hidden_size=96, intermediate_size=384, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4
    )
    cfg = load_config(
        SFTConfig,
        None,
        [
            f"data.path={a.work}/init_traces.jsonl",
            f"run.out={a.work}/init",
            f"run.steps={a.init_steps or 100000}",
            f"run.max_minutes={a.init_minutes if not a.init_steps else 600}",
            f"run.save_every={a.init_save_every}",
            "batch_size=64",
            "micro_batch=64",
            "optim.lr=2e-3",
            "optim.warmup_steps=50",
            f"run.threads={a.threads}",
            "run.resume=false",
        ],
    )
    train_sft(cfg, model=model, tokenizer=tok)
    model.save_pretrained(f"{a.work}/student0")
    tok.save_pretrained(f"{a.work}/student0")


def phase_init2(a) -> None:
    """More SFT on reference traces from student0 (constant lr), overwriting student0."""
    from ponder.train.sft import SFTConfig, train_sft

    cfg = load_config(
        SFTConfig,
        None,
        [
            f"data.path={a.work}/init_traces.jsonl",
            f"model.name={a.work}/student0",
            "model.prompt=tiny",
            f"run.out={a.work}/init2",
            "run.steps=100000",
            "run.save_every=0",
            f"run.max_minutes={a.init2_minutes}",
            "batch_size=64",
            "micro_batch=64",
            "optim.lr=1e-3",
            f"run.threads={a.threads}",
            "run.resume=false",
            f"run.seed={1}",
        ],
    )
    train_sft(cfg)
    last = _last_ckpt(f"{a.work}/init2")
    _copy_model(last, Path(a.work) / "student0")
    Path(a.work, "init2.done").write_text(last + "\n")


def phase_start(a) -> None:
    """The checkpoint --start (e.g. one the init phase kept) becomes student0."""
    _copy_model(a.start, Path(a.work) / "student0")
    Path(a.work, "start.done").write_text(a.start + "\n")


def phase_teacher(a) -> None:
    from distill_budget import Counted

    from ponder.gen import load_generator
    from ponder.tasks import make_problems
    from ponder.train.distill import sample_verified
    from ponder.train.rewards import accuracy

    torch.set_num_threads(a.threads)
    gen = Counted(load_generator(a.teacher))
    problems = make_problems(a.task, a.teacher_problems, a.level, seed=7)
    t0 = time.perf_counter()
    recs, rates = sample_verified(gen, problems, accuracy, k=a.k, temperature=1.0, max_tokens=a.max_tokens, seed=7)
    write_jsonl(f"{a.work}/teacher_traces.jsonl", recs)
    write_json(
        f"{a.work}/teacher_stats.json",
        {
            "problems": len(problems),
            "kept": len(recs),
            "seconds": time.perf_counter() - t0,
            "mean_pass_rate": sum(rates.values()) / len(rates),
            "teacher_params": gen.n_params,
            "tokens": gen.tokens,
            "flops": 2.0 * gen.n_params * gen.tokens,
        },
    )


def phase_distill(a) -> None:
    from ponder.train.sft import SFTConfig, train_sft

    steps = ["run.steps=100000", f"run.max_minutes={a.minutes}"] if a.minutes else [f"run.steps={distill_steps(a)}"]
    cfg = load_config(
        SFTConfig,
        None,
        [
            f"data.path={a.work}/teacher_traces.jsonl",
            f"model.name={a.work}/student0",
            "model.prompt=tiny",  # the start's format: a folder model would default to r1's long prompt
            f"run.out={a.work}/distill",
            *steps,
            "run.save_every=0",
            f"batch_size={a.distill_batch}",
            f"micro_batch={a.distill_batch}",
            "optim.lr=5e-4",
            f"run.threads={a.threads}",
            "run.resume=false",
        ],
    )
    train_sft(cfg)


def distill_steps(a) -> int:
    """SFT steps whose FLOPs plus the teacher's sampling equal the GRPO arm's (measured)."""
    from distill_budget import grpo_flops, sft_steps_for

    from ponder.gen import load_generator
    from ponder.train.batch import encode_example
    from ponder.train.data import load_sft

    student = load_generator(f"{a.work}/student0")
    n = student.n_params
    spent = grpo_flops(_rows(f"{a.work}/grpo"), n, a.group_size)
    teacher = json.loads(Path(f"{a.work}/teacher_stats.json").read_text())["flops"]
    examples = load_sft(f"{a.work}/teacher_traces.jsonl", student.tokenizer, "tiny")
    mean_len = sum(len(encode_example(student.tokenizer, e.prompt, e.response, eos=True).ids) for e in examples)
    per_step = a.distill_batch * mean_len / len(examples)
    steps = sft_steps_for(spent - teacher, n, per_step)
    print(f"distill: GRPO spent {spent:.3g} FLOPs, teacher {teacher:.3g}; {steps} SFT steps of ~{per_step:.0f} tokens")
    return steps


def phase_grpo(a) -> None:
    from ponder.train.grpo import GRPOConfig, train_grpo

    cfg = load_config(
        GRPOConfig,
        "recipes/grpo_countdown_tiny.yaml",
        [
            f"model.name={a.work}/student0",
            "model.prompt=tiny",  # as the start was trained and every arm is evaluated (gen.render)
            f"run.out={a.work}/grpo",
            f"run.steps={a.grpo_steps}",
            f"run.max_minutes={a.minutes}",
            "run.save_every=0",
            f"data.task={a.task}",
            f"data.level={a.level}",
            f"rollout.group_size={a.group_size}",
            f"rollout.prompts_per_step={a.prompts_per_step}",
            f"rollout.temperature={a.grpo_temperature}",
            f"optim.lr={a.grpo_lr}",
            "eval.n=0",
            f"run.threads={a.threads}",
            "run.resume=false",
        ],
    )
    train_grpo(cfg)


def phase_report(a) -> None:
    from distill_budget import grpo_flops, held_out_flags, nonzero_variance_share, sft_flops
    from science_curves import paired

    from ponder.gen import load_generator
    from ponder.tasks import make_problems

    torch.set_num_threads(a.threads)
    held_out = make_problems(a.task, a.eval_n, a.level, seed=12345)
    out = {"machine": "2 cores shared with other agents, no GPU", "loadavg": os.getloadavg(), "args": vars(a)}
    models = {
        "student_init": f"{a.work}/student0",
        "student_distilled": _last_ckpt(f"{a.work}/distill"),
        "student_grpo": _last_ckpt(f"{a.work}/grpo"),
        "teacher": a.teacher,
    }
    for name, path in models.items():
        out[name] = held_out_flags(load_generator(path), held_out, a.max_tokens)
        out[name]["model"] = str(path)
        print(name, {k: v for k, v in out[name].items() if k != "flags"})
    n = load_generator(models["student_init"]).n_params
    grpo_rows, distill_rows = _rows(f"{a.work}/grpo"), _rows(f"{a.work}/distill")
    out["teacher_traces"] = json.loads(Path(f"{a.work}/teacher_stats.json").read_text())
    out["student_params"] = n
    out["grpo_steps"], out["distill_steps"] = len(grpo_rows), len(distill_rows)
    out["grpo_flops"] = grpo_flops(grpo_rows, n, a.group_size)
    out["distill_sft_flops"] = sft_flops(distill_rows, n)
    out["distill_flops"] = out["distill_sft_flops"] + out["teacher_traces"]["flops"]
    out["grpo_nonzero_variance_groups"] = nonzero_variance_share(grpo_rows)
    out["grpo_train_accuracy"] = [round(r["accuracy"], 3) for r in grpo_rows]
    out["step_seconds"] = {
        arm: sum(r["step_s"] for r in rows) for arm, rows in (("grpo", grpo_rows), ("distill", distill_rows))
    }
    out["paired"] = {
        "distilled_minus_grpo": paired(out["student_grpo"], out["student_distilled"]),
        "distilled_minus_start": paired(out["student_init"], out["student_distilled"]),
        "grpo_minus_start": paired(out["student_init"], out["student_grpo"]),
    }
    print({k: out[k] for k in ("grpo_flops", "distill_flops", "grpo_nonzero_variance_groups", "paired")})
    write_json(a.out, out)


def _rows(run: str) -> list[dict]:
    from ponder.io import read_jsonl

    return list(read_jsonl(Path(run) / "metrics.jsonl"))


def _copy_model(src: str, dst: Path) -> None:
    import shutil

    dst.mkdir(parents=True, exist_ok=True)
    for f in Path(src).iterdir():
        if f.name.startswith(("model", "config", "tokenizer", "generation", "special", "chat")):
            shutil.copy(f, dst / f.name)


def _last_ckpt(run: str) -> str:
    return str(Path(run) / Path(run, "latest").read_text().strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--phase", default="all")
    ap.add_argument("--work", default="runs/distill_vs_rl")
    ap.add_argument("--task", default="countdown")
    ap.add_argument("--level", type=int, default=3)
    ap.add_argument("--teacher", default="tiny")
    ap.add_argument("--teacher-problems", type=int, default=600)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=200)
    ap.add_argument("--init-examples", type=int, default=20000)
    ap.add_argument("--init-minutes", type=float, default=6.0)
    ap.add_argument("--init-steps", type=int, default=0, help="init by steps instead of minutes (a loaded machine)")
    ap.add_argument("--init-save-every", type=int, default=0, help="keep init checkpoints (to pick a start)")
    ap.add_argument("--start", default="", help="a checkpoint to use as the student's start (phase start)")
    ap.add_argument("--init2-minutes", type=float, default=8.0)
    ap.add_argument("--grpo-steps", type=int, default=60, help="the GRPO arm's steps; the distill arm gets its FLOPs")
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--prompts-per-step", type=int, default=16)
    ap.add_argument("--grpo-temperature", type=float, default=1.0)
    ap.add_argument("--grpo-lr", type=float, default=3e-5)
    ap.add_argument("--distill-batch", type=int, default=32)
    ap.add_argument("--minutes", type=float, default=0.0, help="old budget: wall minutes per arm (0: equal FLOPs)")
    ap.add_argument("--eval-n", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/train_distill_vs_rl.json")
    a = ap.parse_args()
    Path(a.work).mkdir(parents=True, exist_ok=True)
    steps = {
        "init": (phase_init, "student0/config.json"),
        "init2": (phase_init2, "init2.done"),
        "start": (phase_start, "start.done"),
        "teacher": (phase_teacher, "teacher_traces.jsonl"),
        "grpo": (phase_grpo, "grpo/summary.json"),
        "distill": (phase_distill, "distill/summary.json"),
        "report": (phase_report, None),
    }
    for name in list(steps) if a.phase == "all" else a.phase.split(","):
        fn, done = steps[name]
        if done and (Path(a.work) / done).exists():
            print(f"{name}: done already ({done})")
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        fn(a)
        print(
            f"{name}: {time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU, load {os.getloadavg()}"
        )


if __name__ == "__main__":
    main()
