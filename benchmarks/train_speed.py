"""Base-training speed of the tiny reasoner: today's recipe against bf16 autocast and packing,
at today's size (hidden 128 x 4 layers, 1.06M) and a larger one (hidden 256 x 6 layers), side
by side in one run, on real training batches (the default task mix with reflection traces).

Each configuration runs full optimiser steps (forward, backward, clip, AdamW) of the base
trainer's own `_train_step` on the same example batches; timings alternate between
configurations and the median step is reported as tokens/s (prompt + response tokens, no
padding) and model-FLOP utilisation: 6 x parameters x tokens / s (attention not counted) against
the matmul peak measured in the same run (a 1024^3 fp32 matmul loop on the same threads; the VM
reports no clock). bf16 runs can exceed 1.0 of that fp32 peak: AMX. Also checks bf16 numerics
against fp32 on one batch: loss difference and gradient cosine similarity (in float64).

    PYTHONPATH=. python benchmarks/train_speed.py [--steps 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from ponder.io import write_json
from ponder.models.tiny.build import build_model
from ponder.tasks import get_task
from ponder.train.base import BaseConfig, _train_step, sample_examples
from ponder.train.distributed import Dist
from ponder.train.hardware import Engine

OUT = Path(__file__).parent / "results" / "train_speed.json"


def matmul_peak(dtype: torch.dtype, seconds: float = 1.0) -> float:
    """FLOP/s of back-to-back 1024^3 matmuls (best of a few timed blocks)."""
    a, b = torch.randn(1024, 1024, dtype=dtype), torch.randn(1024, 1024, dtype=dtype)
    best, t_end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        for _ in range(5):
            a @ b
        best = max(best, 5 * 2 * 1024**3 / (time.perf_counter() - t0))
    return best


CONFIGS = {
    "1M fp32 bucketed (today)": dict(hidden=128, layers=4, bf16=False, pack=False),
    "1M bf16 bucketed": dict(hidden=128, layers=4, bf16=True, pack=False),
    "6.3M fp32 bucketed": dict(hidden=256, layers=6, bf16=False, pack=False),
    "6.3M bf16 bucketed": dict(hidden=256, layers=6, bf16=True, pack=False),
    "6.3M bf16 packed 512": dict(hidden=256, layers=6, bf16=True, pack=True),
}


def batches(n: int, batch_size: int, seed: int = 0) -> list[list[tuple[str, str]]]:
    cfg = BaseConfig()
    tasks = {name: (get_task(name), w) for name, w in cfg.tasks.items()}
    rng = random.Random(seed)
    pairs = sample_examples(rng, tasks, n * batch_size, 0.5, reflect=0.2)
    pairs.sort(key=lambda qa: len(qa[0]) + len(qa[1]))  # as bucketing does
    out = [pairs[i : i + batch_size] for i in range(0, len(pairs), batch_size)]
    random.Random(seed).shuffle(out)
    return out


def setup(spec: dict, batch_size: int):
    model, tok = build_model(
        seed=0, num_hidden_layers=spec["layers"], hidden_size=spec["hidden"], intermediate_size=4 * spec["hidden"]
    )
    cfg = BaseConfig(batch_size=batch_size, bf16=spec["bf16"], pack=spec["pack"], layers=spec["layers"])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98), weight_decay=0.1)
    model.train()
    engine = Engine.make("bf16" if spec["bf16"] else "fp32", Dist())  # what Session.open builds
    sess = SimpleNamespace(model=model, tokenizer=tok, opt=opt, step=200, engine=engine)  # what _train_step reads
    return sess, cfg


def n_tokens(tok, pairs) -> int:
    return sum(
        len(tok.encode(q, add_special_tokens=False)) + len(tok.encode(r, add_special_tokens=False)) + 3
        for q, r in pairs
    )


def numerics(spec: dict, pairs) -> dict:
    """Loss and gradients of one batch in fp32 and under bf16 autocast, same weights."""
    from ponder.steps import slip_segments
    from ponder.train.batch import encode_segments
    from ponder.train.sft import sft_loss_backward

    model, tok = build_model(
        seed=1, num_hidden_layers=spec["layers"], hidden_size=spec["hidden"], intermediate_size=4 * spec["hidden"]
    )
    seqs = [encode_segments(tok, f"<bos>{q}\n", slip_segments(r), eos=True) for q, r in pairs]
    out = {}
    for bf16 in (False, True):
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, _ = sft_loss_backward(
                model, seqs, micro_batch=len(seqs), packing=False, max_len=max(len(s.ids) for s in seqs), pad_id=0
            )
        out[bf16] = (loss, torch.cat([p.grad.flatten() for p in model.parameters()]))
    g32, g16 = out[False][1], out[True][1]
    return {
        "loss_fp32": round(out[False][0], 5),
        "loss_bf16": round(out[True][0], 5),
        "grad_cosine": round(float(torch.nn.functional.cosine_similarity(g32.double(), g16.double(), dim=0)), 6),
        "grad_rel_err": round(float((g32 - g16).norm() / g32.norm()), 5),
    }


def run(steps: int, batch_size: int) -> dict:
    peak = matmul_peak(torch.float32)
    data = batches(steps + 1, batch_size)
    runs = {name: setup(spec, batch_size) for name, spec in CONFIGS.items()}
    times: dict[str, list[float]] = {name: [] for name in CONFIGS}
    for i, pairs in enumerate(data):
        for name, (sess, cfg) in runs.items():
            t0 = time.perf_counter()
            _train_step(sess, pairs, cfg, progress=0.5)
            if i > 0:  # the first step is a warm-up
                times[name].append((time.perf_counter() - t0, n_tokens(sess.tokenizer, pairs)))
    rows = []
    for name, spec in CONFIGS.items():
        model = runs[name][0].model
        params = sum(p.numel() for p in model.parameters())
        secs = statistics.median(t for t, _ in times[name])
        toks = statistics.mean(n for _, n in times[name])
        tps = toks / secs
        rows.append({
            "config": name, **spec, "params": params, "batch_size": batch_size,
            "step_s": round(secs, 3), "tokens_per_step": round(toks), "tokens_per_s": round(tps),
            "gflop_per_s": round(6 * params * tps / 1e9, 1),
            "mfu_vs_fp32_peak": round(6 * params * tps / peak, 3),
            "step_seconds": [round(t, 3) for t, _ in times[name]],
        })  # fmt: skip
    peaks = {
        "fp32_matmul_gflops": round(peak / 1e9, 1),
        "bf16_matmul_gflops": round(matmul_peak(torch.bfloat16) / 1e9, 1),
    }
    return {"rows": rows, "numerics_6.3M": numerics(CONFIGS["6.3M bf16 bucketed"], data[0]), "peaks": peaks}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    res = run(args.steps, args.batch_size)
    res["meta"] = {
        "machine": f"{os.cpu_count()} cores (AVX-512, AMX-BF16), shared with other agents",
        "torch_threads": args.threads,
        "torch": torch.__version__,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "when_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    write_json(OUT, res)
    for r in res["rows"]:
        print(
            f"{r['config']:<26} {r['params'] / 1e6:5.2f}M  {r['step_s']:6.3f}s/step  {r['tokens_per_s']:7,} tok/s  MFU {r['mfu_vs_fp32_peak']:.2f}"
        )
    print(res["numerics_6.3M"], res["peaks"], res["meta"])


if __name__ == "__main__":
    main()
