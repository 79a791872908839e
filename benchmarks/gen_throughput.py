"""Decode throughput: ponder's hf sampler against transformers' own `generate()` on the tiny reasoner.

Both sample (temperature 1, top-k and top-p off) 100 new tokens for every one of B prompts
(B = 1, 16, 64, 256), EOS disabled on both sides so every output has exactly 100 tokens.
Prompts are rendered arithmetic questions of mixed lengths (left padding). Timings alternate
between the two (and ponder's generic fallback loop, `fast=False`, for B <= 64) and the median of
`--repeats` runs is reported as generated tokens per second (and the best run, less disturbed
by other work on the machine). Uses the trained tiny weights when
they exist, else a random model of the same architecture (same speed). Records the load average:
other agents shared the 2-core machine while this ran. `--threads 1 2` times every method at each
thread count in the same rounds (torch's threads and the compiled kernel's, which follows torch's
count), one row per batch and thread count, so the columns share weights, prompts and machine state.

    PYTHONPATH=. python benchmarks/gen_throughput.py [--repeats 3] [--threads 1 [2]] [--batches 1 16 64 256]
        [--temperature 1.0 (0: greedy on both sides)] [--out benchmarks/results/gen_throughput.json]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from pathlib import Path

import torch
from rich.progress import Progress

from ponder.gen.hf import HFGenerator
from ponder.io import write_json
from ponder.models import TINY_DIR
from ponder.types import SamplingParams

OUT = Path(__file__).parent / "results" / "gen_throughput.json"
NEW = 100


def load_tiny() -> tuple[HFGenerator, str]:
    if (TINY_DIR / "config.json").is_file():
        return HFGenerator(str(TINY_DIR), device="cpu"), "trained tiny reasoner weights"
    from ponder.models.tiny.build import build_model

    model, tok = build_model()
    return HFGenerator.from_model(model.eval(), tok), "random init, tiny reasoner architecture"


def prompts_for(gen: HFGenerator, batch: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    qs = ["Q:" + "+".join(str(rng.randint(1, 99)) for _ in range(rng.randint(2, 5))) + "=" for _ in range(batch)]
    return [gen.render(q) for q in qs]


def time_ponder(gen: HFGenerator, prompts: list[str], fast: bool, seed: int, temperature: float = 1.0) -> float:
    gen.fast = None if fast else False
    gen.prefix_cache = None  # repeats send the same prompts; generate() re-encodes them, so must we
    params = SamplingParams(temperature=temperature, top_p=1.0, top_k=0, max_tokens=NEW, seed=seed, logprobs=True)
    t0 = time.perf_counter()
    out = gen.generate(prompts, params, ignore_eos=True)
    dt = time.perf_counter() - t0
    assert all(len(g[0].token_ids) == NEW for g in out)
    return dt


def time_hf(gen: HFGenerator, prompts: list[str], seed: int, temperature: float = 1.0) -> float:
    from transformers import GenerationConfig

    tok = gen.tokenizer
    enc = tok(prompts, add_special_tokens=False, return_tensors="pt", padding=True)
    config = GenerationConfig(
        do_sample=temperature > 0, temperature=temperature if temperature > 0 else 1.0, top_k=0, top_p=1.0, max_new_tokens=NEW, min_new_tokens=NEW,
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = gen.model.generate(**enc, generation_config=config)
    dt = time.perf_counter() - t0
    assert out.shape[1] - enc.input_ids.shape[1] == NEW
    return dt


def alternate(methods: dict, repeats: int, after_round=lambda: None) -> dict[str, list[float]]:
    """One warm-up call each (seed 0), then `repeats` rounds calling every method in turn (seed
    r + 1); returns each method's seconds per round."""
    for f in methods.values():
        f(0)
    times: dict[str, list[float]] = {m: [] for m in methods}
    for r in range(repeats):
        for m, f in methods.items():
            times[m].append(f(r + 1))
        after_round()
    return times


def rates(name: str, seconds: list[float], tokens: int) -> dict:
    """Median and best tokens per second, and the raw seconds."""
    return {
        f"{name}_tok_s": round(tokens / statistics.median(seconds), 1),
        f"{name}_best_tok_s": round(tokens / min(seconds), 1),
        f"{name}_seconds": [round(t, 4) for t in seconds],
    }


def at_threads(n: int, f):
    """f, called with torch (and so the kernel) at n threads."""

    def call(seed: int) -> float:
        torch.set_num_threads(n)
        return f(seed)

    return call


def run(batches: list[int], repeats: int, threads: list[int], temperature: float = 1.0) -> list[dict]:
    gen, source = load_tiny()
    rows = []
    with Progress() as bar:
        task = bar.add_task("gen throughput", total=len(batches) * repeats)
        for batch in batches:
            prompts = prompts_for(gen, batch, seed=batch)
            methods = {}
            for n in threads:
                methods[(n, "ponder")] = at_threads(n, lambda s, p=prompts: time_ponder(gen, p, True, s, temperature))
                methods[(n, "hf_generate")] = at_threads(n, lambda s, p=prompts: time_hf(gen, p, s, temperature))
                if batch <= 64:
                    methods[(n, "ponder_generic_loop")] = at_threads(
                        n, lambda s, p=prompts: time_ponder(gen, p, False, s, temperature)
                    )
            times = alternate(methods, repeats, lambda: bar.advance(task))
            for n in threads:
                row = {"batch": batch, "threads": n, "new_tokens": NEW, "model": source}
                row["loadavg_after"] = os.getloadavg()
                for (m_threads, m), ts in times.items():
                    if m_threads == n:
                        row.update(rates(m, ts, batch * NEW))
                row["speedup_vs_generate"] = round(row["ponder_tok_s"] / row["hf_generate_tok_s"], 2)
                row["best_speedup_vs_generate"] = round(row["ponder_best_tok_s"] / row["hf_generate_best_tok_s"], 2)
                rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| batch | threads | ponder tok/s | `generate()` tok/s | speed-up (median) | speed-up (best run) | generic loop tok/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        generic = r.get("ponder_generic_loop_tok_s", "—")
        lines.append(
            f"| {r['batch']} | {r['threads']} | {r['ponder_tok_s']:,.0f} | {r['hf_generate_tok_s']:,.0f} | "
            f"{r['speedup_vs_generate']}× | {r['best_speedup_vs_generate']}× | "
            f"{generic if isinstance(generic, str) else f'{generic:,.0f}'} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1])  # 2+ only on an idle machine (bench lock)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64, 256])
    ap.add_argument("--temperature", type=float, default=1.0, help="0: greedy on both sides")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(args.threads[0])
    load_before = os.getloadavg()
    rows = run(args.batches, args.repeats, args.threads, args.temperature)
    import transformers

    meta = {
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, no GPU",
        "torch_threads": args.threads,
        "temperature": args.temperature,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "note": "other agents shared the machine; see loadavg (1, 5, 15 min)",
        "when_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, {"meta": meta, "rows": rows})
    print(table(rows))
    print(meta)


if __name__ == "__main__":
    main()
