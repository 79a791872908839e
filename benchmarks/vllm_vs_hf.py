"""vLLM against ponder's hf backend on the tiny reasoner, side by side in one run.

1. Decode throughput: 100 new tokens (temperature 1, EOS off) for B = 1, 16, 64, 256 prompts with
   vLLM's offline engine, ponder's hf lean path and transformers `generate()`; medians of
   `--repeats` alternating runs, in generated tokens per second.
2. Beam search (scorer "check") over `--beam-n` Countdown problems on vLLM with prefix caching on
   and off (a fresh engine each), and on the hf backend: seconds, prompt tokens sent, prompt tokens
   served from the prefix cache (prefill tokens saved), accuracy.
3. One GRPO step's rollouts, RL-shaped (16 prompts x 8 samples, T=1, up to 128 tokens, EOS on),
   on the hf backend over the live model and on vLLM, plus vLLM's weight push into the running
   engine (`load_weights`), which every step with vLLM rollouts pays.

Runs where vLLM is installed (bash scripts/setup.sh --vllm); records machine, versions and load
average in results/vllm_vs_hf.json. The engine runs in-process on the process's torch threads.

    PYTHONPATH=. python benchmarks/vllm_vs_hf.py [--repeats 3] [--beam-n 100] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

for _key, _value in {"VLLM_HOST_IP": "127.0.0.1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}.items():
    os.environ.setdefault(_key, _value)

import torch  # noqa: E402

from benchmarks.gen_throughput import NEW, alternate, prompts_for, rates, time_hf, time_ponder  # noqa: E402
from ponder.io import write_json  # noqa: E402
from ponder.types import SamplingParams  # noqa: E402

OUT = Path(__file__).parent / "results" / "vllm_vs_hf.json"


def time_vllm(gen, prompts: list[str], seed: int) -> float:
    params = SamplingParams(temperature=1.0, max_tokens=NEW, seed=seed, logprobs=True)
    t0 = time.perf_counter()
    out = gen.generate(prompts, params, ignore_eos=True)
    dt = time.perf_counter() - t0
    assert all(len(g[0].token_ids) == NEW for g in out)
    return dt


def throughput(vgen, hgen, batches: list[int], repeats: int) -> list[dict]:
    rows = []
    for batch in batches:
        prompts = prompts_for(hgen, batch, seed=batch)
        methods = {
            "vllm": lambda s, p=prompts: time_vllm(vgen, p, s),
            "ponder_hf": lambda s, p=prompts: time_ponder(hgen, p, True, s),
            "hf_generate": lambda s, p=prompts: time_hf(hgen, p, s),
        }
        times = alternate(methods, repeats)
        row = {"batch": batch, "new_tokens": NEW, "loadavg_after": os.getloadavg()}
        for m, ts in times.items():
            row.update(rates(m, ts, batch * NEW))
        print(f"batch {batch}: " + ", ".join(f"{m} {row[f'{m}_tok_s']:,.0f} tok/s" for m in methods), flush=True)
        rows.append(row)
    return rows


def beam_run(gen, problems, budget: int, width: int) -> dict:
    from ponder.search import run_search
    from ponder.verify import verify

    run_search("beam", problems[:2], gen, budget=budget, scorer="check", width=width)  # warm-up
    stats = getattr(gen, "prefix_stats", None)
    before = dict(stats) if stats else None
    t0 = time.perf_counter()
    results = run_search("beam", problems, gen, budget=budget, scorer="check", width=width)
    dt = time.perf_counter() - t0
    row = {
        "seconds": round(dt, 2),
        "accuracy": sum(s.correct for s in verify(problems, [r.response for r in results])) / len(problems),
        "generated_tokens": sum(r.cost.generated_tokens for r in results),
        "gen_calls": sum(r.cost.gen_calls for r in results),
        "loadavg_after": os.getloadavg(),
    }
    if before is not None:
        row["prompt_tokens_sent"] = stats["prompt_tokens"] - before["prompt_tokens"]
        row["prompt_tokens_cached"] = stats["cached_tokens"] - before["cached_tokens"]
        row["prefill_tokens"] = row["prompt_tokens_sent"] - row["prompt_tokens_cached"]
    return row


def beam(hgen, n: int, budget: int, width: int) -> dict:
    from ponder.gen import load_generator
    from ponder.tasks import make_problems

    problems = make_problems("countdown", n, seed=2024)
    out = {"task": "countdown", "n_problems": n, "budget": budget, "width": width}
    for caching in (True, False):
        gen = load_generator("tiny", backend="vllm", prefix_caching=caching)
        key = "vllm_prefix_on" if caching else "vllm_prefix_off"
        out[key] = beam_run(gen, problems, budget, width)
        print(f"beam {key}: {out[key]}", flush=True)
        gen.close()
    out["hf"] = beam_run(hgen, problems, budget, width)
    print(f"beam hf: {out['hf']}", flush=True)
    on, off = out["vllm_prefix_on"], out["vllm_prefix_off"]
    out["speedup_prefix_caching"] = round(off["seconds"] / on["seconds"], 2)
    out["prefill_saved_fraction"] = round(on["prompt_tokens_cached"] / max(1, on["prompt_tokens_sent"]), 3)
    return out


def rollouts(vgen, hgen, repeats: int) -> dict:
    from ponder.gen.hf import HFGenerator
    from ponder.tasks import make_problems

    live = HFGenerator.from_model(hgen.model, hgen.tokenizer)
    prompts = [live.render(p.question) for p in make_problems("countdown", 16, seed=7)]
    times: dict[str, list[float]] = {"hf": [], "vllm": [], "vllm_weight_push": []}
    tokens: dict[str, list[int]] = {"hf": [], "vllm": []}
    for r in range(repeats + 1):
        params = SamplingParams(n=8, temperature=1.0, max_tokens=128, seed=r)
        t0 = time.perf_counter()
        vgen.load_weights(hgen.model.state_dict().items())
        t1 = time.perf_counter()
        out_v = vgen.generate(prompts, params)
        t2 = time.perf_counter()
        out_h = live.generate(prompts, params)
        t3 = time.perf_counter()
        if r == 0:
            continue  # warm-up
        times["vllm_weight_push"].append(t1 - t0)
        times["vllm"].append(t2 - t1)
        times["hf"].append(t3 - t2)
        tokens["vllm"].append(sum(len(c.token_ids) for g in out_v for c in g))
        tokens["hf"].append(sum(len(c.token_ids) for g in out_h for c in g))
    out = {"prompts": 16, "samples": 8, "max_tokens": 128, "task": "countdown"}
    for k, ts in times.items():
        out[f"{k}_seconds_median"] = round(statistics.median(ts), 3)
        out[f"{k}_seconds"] = [round(t, 3) for t in ts]
    for k, ns in tokens.items():
        out[f"{k}_tokens_mean"] = round(statistics.mean(ns), 1)
    print(f"GRPO-step rollouts: {out}", flush=True)
    return out


def run_meta(threads: int, load_before: tuple, **extra) -> dict:
    """Machine, versions, load average before and after, time: what every result file records."""
    import transformers
    import vllm

    return {
        **extra,
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, no GPU",
        "torch_threads": threads,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "vllm": vllm.__version__,
        "model": "trained tiny reasoner weights (ponder/models/tiny/weights), fp32",
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "note": "other agents shared the 2-core machine; see loadavg (1, 5, 15 min)",
        "when_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64, 256])
    ap.add_argument("--beam-n", type=int, default=100)
    ap.add_argument("--beam-budget", type=int, default=8)
    ap.add_argument("--beam-width", type=int, default=4)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--skip", nargs="*", default=[], choices=["throughput", "beam", "rollouts"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from ponder.gen import load_generator
    from ponder.gen.hf import HFGenerator
    from ponder.models import TINY_DIR

    load_before = os.getloadavg()
    hgen = HFGenerator(str(TINY_DIR), device="cpu")
    result: dict = {}
    vgen = load_generator("tiny", backend="vllm")
    if "throughput" not in args.skip:
        result["throughput"] = throughput(vgen, hgen, args.batches, args.repeats)
    if "rollouts" not in args.skip:
        result["grpo_rollouts"] = rollouts(vgen, hgen, args.repeats)
    vgen.close()
    if "beam" not in args.skip:
        result["beam"] = beam(hgen, args.beam_n, args.beam_budget, args.beam_width)
    result["meta"] = run_meta(args.threads, load_before)
    write_json(args.out, result)
    print(result["meta"])


if __name__ == "__main__":
    main()
