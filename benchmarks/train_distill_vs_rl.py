"""Distillation vs RL for a small model (DeepSeek-R1 section 4.1 in miniature): a smaller
student distilled from a stronger tiny teacher's verified traces, against the same student trained
with GRPO for the same wall time.

Phases (each writes under --work and is skipped when its output exists):
  init     a small student (2 layers, d=96, ~0.25M parameters) trained briefly with SFT on the
           task's reference traces, so that it starts weak but not at zero;
  init2    more of the same from that checkpoint (after 6 minutes it was still at 0% on level 3);
  teacher  K samples per problem from the teacher (the built-in tiny reasoner), kept when verified;
  distill  SFT of the student on the teacher's verified traces for --minutes;
  grpo     GRPO of the student from the same start for --minutes;
  report   greedy held-out accuracy (Wilson 95% CIs) of init / distilled / GRPO students and the teacher.

Run: PYTHONPATH=. python benchmarks/train_distill_vs_rl.py --phase all --minutes 8
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
            "run.save_every=0",
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
    import shutil

    last = _last_ckpt(f"{a.work}/init2")
    for f in Path(last).iterdir():
        if f.name.startswith(("model", "config", "tokenizer", "generation", "special", "chat")):
            shutil.copy(f, Path(a.work) / "student0" / f.name)
    Path(a.work, "init2.done").write_text(last + "\n")


def phase_teacher(a) -> None:
    from ponder.gen import load_generator
    from ponder.tasks import make_problems
    from ponder.train.distill import sample_verified
    from ponder.train.rewards import accuracy

    torch.set_num_threads(a.threads)
    gen = load_generator(a.teacher)
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
        },
    )


def phase_distill(a) -> None:
    from ponder.train.sft import SFTConfig, train_sft

    cfg = load_config(
        SFTConfig,
        None,
        [
            f"data.path={a.work}/teacher_traces.jsonl",
            f"model.name={a.work}/student0",
            f"run.out={a.work}/distill",
            "run.steps=100000",
            f"run.max_minutes={a.minutes}",
            "run.save_every=0",
            "batch_size=32",
            "micro_batch=32",
            "optim.lr=5e-4",
            f"run.threads={a.threads}",
            "run.resume=false",
        ],
    )
    train_sft(cfg)


def phase_grpo(a) -> None:
    from ponder.train.grpo import GRPOConfig, train_grpo

    cfg = load_config(
        GRPOConfig,
        "recipes/grpo_countdown_tiny.yaml",
        [
            f"model.name={a.work}/student0",
            f"run.out={a.work}/grpo",
            "run.steps=100000",
            f"run.max_minutes={a.minutes}",
            "run.save_every=0",
            f"data.task={a.task}",
            f"data.level={a.level}",
            "eval.n=0",
            f"run.threads={a.threads}",
            "run.resume=false",
        ],
    )
    train_grpo(cfg)


def phase_report(a) -> None:
    from ponder.gen import load_generator
    from ponder.tasks import make_problems
    from ponder.train.evaluate import greedy_accuracy
    from ponder.train.rewards import accuracy

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
        out[name] = greedy_accuracy(load_generator(path), held_out, accuracy, max_tokens=a.max_tokens)
        out[name]["model"] = str(path)
        print(name, out[name])
    for arm in ("distill", "grpo"):
        summ = json.loads(Path(f"{a.work}/{arm}/summary.json").read_text())
        out[f"{arm}_steps"] = summ["steps"]
    out["teacher_traces"] = json.loads(Path(f"{a.work}/teacher_stats.json").read_text())
    write_json(a.out, out)


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
    ap.add_argument("--init2-minutes", type=float, default=8.0)
    ap.add_argument("--minutes", type=float, default=8.0)
    ap.add_argument("--eval-n", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/train_distill_vs_rl.json")
    a = ap.parse_args()
    Path(a.work).mkdir(parents=True, exist_ok=True)
    steps = {
        "init": (phase_init, "student0/config.json"),
        "init2": (phase_init2, "init2.done"),
        "teacher": (phase_teacher, "teacher_traces.jsonl"),
        "distill": (phase_distill, "distill/summary.json"),
        "grpo": (phase_grpo, "grpo/summary.json"),
        "report": (phase_report, None),
    }
    for name in list(steps) if a.phase == "all" else a.phase.split(","):
        fn, done = steps[name]
        if done and (Path(a.work) / done).exists():
            print(f"{name}: done already ({done})")
            continue
        t0 = time.perf_counter()
        fn(a)
        print(f"{name}: {time.perf_counter() - t0:.0f} s, loadavg {os.getloadavg()}")


if __name__ == "__main__":
    main()
