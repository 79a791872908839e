"""Training throughput and memory on this machine (issue 19): data parallelism, precision,
gradient checkpointing and LoRA, all through ponder's own trainers (train_sft / train_grpo on the
shared Session), each measurement in a fresh process so its peak memory is its own.

  dp         SFT and GRPO on the built-in tiny reasoner with 1 and 2 processes (torchrun, gloo,
             one thread each), the same global batch; tokens/s summed over ranks
  precision  one SFT step and one GRPO policy update, fp32 vs bf16 autocast vs pure bf16, one
             thread, on the tiny shape (hidden 128) and a hidden-256 / 6-layer Llama (where
             AMX-BF16 pays); the precisions alternate step by step in one process (same batches,
             same starting weights), so a load that drifts hits them alike; median step
  fsdp       SFT and GRPO on the tiny reasoner: 1 process, 2 processes DDP, 2 processes FSDP2
             (train.parallel=fsdp); tokens/s and the parameter elements rank 0 holds
  memory     one SFT step of the hidden-256 model on long rows: peak RSS and s/step with and
             without gradient checkpointing and LoRA

Tokens/s counts every token a step processes (SFT: prompt + response tokens of the batch;
GRPO: generated tokens + tokens scored in the update), from metrics.jsonl, mean over the steps
after the first. The machine is shared: `uptime` load is recorded before and after each section,
and numbers under load are what they are.

Run: PYTHONPATH=. python benchmarks/train_scale.py [--sections dp,fsdp,precision,memory] [--quick]
Writes benchmarks/results/train_scale.json and train_scale.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {
    "tiny": None,  # the built-in tiny reasoner (hidden 128, 4 layers, 1.06M)
    "h128": dict(hidden_size=128, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4),
    "h256": dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=6, num_attention_heads=4),
}


def _load() -> list[float]:
    return [round(x, 1) for x in os.getloadavg()]


def _model(shape: str):
    if SHAPES[shape] is None:
        from ponder.train.common import load_policy

        return load_policy("tiny")
    from ponder.models.tiny.build import build_model

    return build_model(seed=0, num_key_value_heads=SHAPES[shape]["num_attention_heads"], **SHAPES[shape])


def _examples(n: int, long_rows: bool):
    from ponder.tasks import get_task
    from ponder.train.data import Example

    rng, task, out = random.Random(0), get_task("countdown"), []
    for _ in range(n):
        p = task.sample(rng, 3)
        trace = task.trace(p, rng)
        out.append(Example(p.question + "\n", (trace + "\n") * (4 if long_rows else 1)))
    return out


def worker(spec: dict) -> dict:
    """One run in this process; returns its measurements (printed as JSON by main)."""
    import torch

    from ponder.config import load_config
    from ponder.train.distributed import shutdown

    torch.set_num_threads(1)
    out = spec["out"]
    run = [f"run.out={out}", f"run.steps={spec['steps']}", "run.progress=false", "run.save_every=0", "run.threads=1"]
    train = [f"train.precision={spec.get('precision', 'fp32')}"]
    train += [f"train.grad_checkpointing={str(spec.get('ckpt', False)).lower()}"]
    train += [f"train.parallel={spec.get('parallel', 'ddp')}"]
    if spec.get("lora"):
        train += [f"train.lora.r={spec['lora']}", "train.lora.targets=[all-linear]"]
    model, tok = _model(spec["shape"])
    if spec["method"] == "sft":
        from ponder.train.sft import SFTConfig, train_sft

        b = spec["batch"]
        cfg = load_config(SFTConfig, None, run + train + [f"batch_size={b}", f"micro_batch={b}", "eval.n=0"])
        cfg.max_len = 2048
        train_sft(cfg, examples=_examples(512, spec.get("long", False)), model=model, tokenizer=tok)
    else:
        from ponder.train.grpo import GRPOConfig, train_grpo

        args = ["data.task=countdown", "data.n=256", f"rollout.prompts_per_step={spec['prompts']}"]
        args += ["rollout.group_size=8", "rollout.max_tokens=96", "rollout.micro_batch=16", "eval.n=0"]
        cfg = load_config(GRPOConfig, None, run + train + args + ["algo.kl_coef=0.04"])
        train_grpo(cfg, model=model, tokenizer=tok)
    shutdown()
    if os.environ.get("RANK", "0") != "0":
        return {}
    from ponder.train.fsdp import local_numel

    params_rank0 = local_numel(model)  # sharded in place under FSDP
    rows = [json.loads(x) for x in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "tokens_per_s" in r][1:]  # the first step warms up
    mean = lambda k: sum(r[k] for r in rows) / len(rows)  # noqa: E731
    res = {"tokens_per_s": mean("tokens_per_s"), "step_s": mean("step_s"), "steps_measured": len(rows)}
    if "train_s" in rows[0]:
        res["train_s"] = mean("train_s")
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res["loss_last"] = rows[-1]["loss"]
    res["params_rank0"] = params_rank0
    return res


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(spec: dict, procs: int = 1) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        spec = {**spec, "out": f"{tmp}/run"}
        cmd = [sys.executable, __file__, "--worker", json.dumps(spec)]
        if procs > 1:
            launch = ["-m", "torch.distributed.run", f"--nproc_per_node={procs}", "--master_addr=127.0.0.1"]
            cmd = [sys.executable, *launch, f"--master_port={_free_port()}", __file__, "--worker", json.dumps(spec)]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        t0 = time.perf_counter()
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
        if p.returncode:
            raise RuntimeError(p.stderr[-3000:])
        lines = [x for x in p.stdout.splitlines() if x.startswith("{") and x != "{}"]
        res = json.loads(lines[-1])
        res.update(procs=procs, wall_s=time.perf_counter() - t0, **{k: v for k, v in spec.items() if k != "out"})
        print(json.dumps(res), flush=True)
        return res


def section_dp(quick: bool) -> list[dict]:
    sft = dict(method="sft", shape="tiny", steps=4 if quick else 8, batch=64)
    grpo = dict(method="grpo", shape="tiny", steps=3 if quick else 5, prompts=8)
    return [measure(spec, procs) for spec in (sft, grpo) for procs in (1, 2)]


def precision_worker(spec: dict) -> list[dict]:
    """Sessions in fp32 / bf16 / bf16-pure from the same weights, stepped in turn on the same data."""
    import copy
    import statistics

    import torch

    from ponder.train.batch import encode_example
    from ponder.train.common import ModelConfig, OptimConfig, RunConfig, TrainConfig
    from ponder.train.policy_update import update
    from ponder.train.presets import resolve_switches
    from ponder.train.session import Session
    from ponder.train.sft import sft_loss_backward

    torch.set_num_threads(1)
    model, tok = _model(spec["shape"])
    names = ("fp32", "bf16", "bf16-pure")
    sessions = {}
    for name in names:
        run = RunConfig(out=f"{spec['out']}/{name}", threads=1, progress=False)
        sessions[name] = Session.open(ModelConfig(), OptimConfig(lr=1e-4), run, total_steps=100,
                                      train=TrainConfig(precision=name), model=copy.deepcopy(model),
                                      tokenizer=tok, need_gen=False)  # fmt: skip
        sessions[name].ref = sessions[name].load_ref(ModelConfig())
    ex = _examples(32 * (spec["steps"] + 1), False)
    seqs = [encode_example(tok, e.prompt, e.response, eos=True) for e in ex]
    batches = [seqs[i : i + 32] for i in range(0, len(seqs), 32)]
    sw, pad = resolve_switches("grpo", {"kl_coef": 0.04}), tok.pad_token_id
    adv, w = torch.randn(32), torch.ones(32)
    times = {(n, k): [] for n in names for k in ("sft", "grpo")}
    losses = {n: [] for n in names}
    for batch in batches:
        for n in names:
            s = sessions[n]
            t0 = time.perf_counter()
            loss, _ = sft_loss_backward(s.model, batch, micro_batch=32, packing=False, max_len=2048, pad_id=pad,
                                        engine=s.engine)  # fmt: skip
            s.engine.step(s.model, s.opt, s.sched, 1.0)
            times[(n, "sft")].append(time.perf_counter() - t0)
            losses[n].append(loss)
            t0 = time.perf_counter()
            update(s.model, s.ref, s.opt, s.sched, batch, adv, w, sw, micro_batch=16, max_tokens=512, pad_id=pad,
                   grad_clip=1.0, engine=s.engine)  # fmt: skip
            times[(n, "grpo")].append(time.perf_counter() - t0)
    tokens = statistics.mean(sum(len(x.ids) for x in b) for b in batches)
    rows = []
    for n in names:
        sft_s, grpo_s = statistics.median(times[(n, "sft")][1:]), statistics.median(times[(n, "grpo")][1:])
        rows.append({"shape": spec["shape"], "precision": n, "sft_tokens_per_s": tokens / sft_s,
                     "grpo_update_tokens_per_s": tokens / grpo_s, "steps_measured": len(batches) - 1,
                     "sft_losses": [round(x, 4) for x in losses[n]],
                     "max_rel_loss_diff_vs_fp32": max(abs(a - b) / a for a, b in zip(losses["fp32"], losses[n]))})  # fmt: skip
    return rows


def section_precision(quick: bool) -> list[dict]:
    rows = []
    for shape in ("h128", "h256"):
        with tempfile.TemporaryDirectory() as tmp:
            spec = {"kind": "precision", "shape": shape, "steps": 3 if quick else 6, "out": tmp}
            cmd = [sys.executable, __file__, "--worker", json.dumps(spec)]
            env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
            if p.returncode:
                raise RuntimeError(p.stderr[-3000:])
            got = json.loads([x for x in p.stdout.splitlines() if x.startswith("[")][-1])
            print(json.dumps(got), flush=True)
            rows += got
    return rows


def section_fsdp(quick: bool) -> list[dict]:
    sft = dict(method="sft", shape="tiny", steps=4 if quick else 8, batch=64)
    grpo = dict(method="grpo", shape="tiny", steps=3 if quick else 5, prompts=8)
    runs = [(spec, 1) for spec in (sft, grpo)] + [
        ({**spec, "parallel": p}, 2) for spec in (sft, grpo) for p in ("ddp", "fsdp")
    ]
    return [measure(spec, procs) for spec, procs in runs]


def section_memory(quick: bool) -> list[dict]:
    base = dict(method="sft", shape="h256", steps=3 if quick else 4, batch=16, long=True)
    variants = [dict(), dict(ckpt=True), dict(lora=16), dict(lora=16, ckpt=True), dict(precision="bf16", ckpt=True)]
    return [measure({**base, **v}) for v in variants]


SECTIONS = {"dp": section_dp, "fsdp": section_fsdp, "precision": section_precision, "memory": section_memory}


def table(rows: list[dict]) -> str:
    cols = ["method", "shape", "procs", "parallel", "precision", "ckpt", "lora", "tokens_per_s", "step_s"]
    cols += ["peak_rss_mb", "params_rank0"]
    if rows and "sft_tokens_per_s" in rows[0]:
        cols = ["shape", "precision", "sft_tokens_per_s", "grpo_update_tokens_per_s", "max_rel_loss_diff_vs_fp32"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        vals = [r.get(c, "fp32" if c == "precision" else "-") for c in cols]
        fmt = lambda v: (f"{v:,.0f}" if abs(v) >= 1 else f"{v:.2g}") if isinstance(v, float) else str(v)  # noqa: E731
        lines.append("| " + " | ".join(fmt(v) for v in vals) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--sections", default="dp,precision,memory")
    ap.add_argument("--quick", action="store_true", help="fewer steps")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_scale"))
    args = ap.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        print(json.dumps(precision_worker(spec) if spec.get("kind") == "precision" else worker(spec)))
        return
    path = Path(args.out)
    result = json.loads(path.with_suffix(".json").read_text()) if path.with_suffix(".json").is_file() else {}
    result["machine"] = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    for name in args.sections.split(","):
        before = _load()
        rows = SECTIONS[name](args.quick)
        result[name] = {"load_before": before, "load_after": _load(), "date": time.strftime("%F %T"), "rows": rows}
        write(path, result)


def write(path: Path, result: dict) -> None:
    """The JSON and a Markdown table per section (rewritten after each section)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    md = [f"# Training scale on this machine ({result['machine']})\n"]
    for name in SECTIONS:
        if name in result:
            sec = result[name]
            md += [
                f"## {name} ({sec['date']}; load {sec['load_before']} -> {sec['load_after']})\n",
                table(sec["rows"]),
                "",
            ]
    path.with_suffix(".md").write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
