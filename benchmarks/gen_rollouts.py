"""RL-style rollouts on a trained model: ponder's sampler against transformers' `generate()`.

16 arithmetic prompts x 8 samples (T=1, top-k and top-p off, up to 128 new tokens, EOS on), the
shape of one GRPO step. Unlike `gen_throughput.py` (fixed lengths, random weights), outputs end
at EOS at different lengths, so this measures what finished-row dropping and one prefill per
prompt buy. `generate()` gets `num_return_sequences=8`. Tokens are counted up to and including
EOS for both. Medians of `--repeats` alternating runs; load average recorded (shared machine).

    PYTHONPATH=. python benchmarks/gen_rollouts.py --model runs/tiny-snapshot [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

import torch

from ponder.gen import load_generator
from ponder.io import write_json
from ponder.types import SamplingParams

OUT = Path(__file__).parent / "results" / "gen_rollouts.json"
PROMPTS, N, MAX_NEW = 16, 8, 128


def questions(seed: int) -> list[str]:
    rng = random.Random(seed)
    ops = "+-"
    out = []
    for _ in range(PROMPTS):
        terms = [str(rng.randint(1, 99)) for _ in range(rng.randint(3, 4))]
        out.append("Q:" + "".join(t + rng.choice(ops) for t in terms[:-1]) + terms[-1] + "=")
    return out


def run_ponder(gen, prompts: list[str], seed: int) -> tuple[float, int]:
    params = SamplingParams(n=N, temperature=1.0, top_p=1.0, top_k=0, max_tokens=MAX_NEW, seed=seed)
    t0 = time.perf_counter()
    out = gen.generate(prompts, params)
    return time.perf_counter() - t0, sum(len(c.token_ids) for g in out for c in g)


def run_hf(gen, prompts: list[str], seed: int) -> tuple[float, int]:
    tok = gen.tokenizer
    enc = tok(prompts, add_special_tokens=False, return_tensors="pt", padding=True)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = gen.model.generate(
            **enc, do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=MAX_NEW,
            num_return_sequences=N, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
        )  # fmt: skip
    dt = time.perf_counter() - t0
    new = out[:, enc.input_ids.shape[1] :].tolist()
    eos = tok.eos_token_id
    return dt, sum(row.index(eos) + 1 if eos in row else len(row) for row in new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gen = load_generator(args.model, device="cpu")
    prompts = [gen.render(q) for q in questions(seed=0)]
    load_before = os.getloadavg()
    runs: dict[str, list[tuple[float, int]]] = {"ponder": [], "hf_generate": []}
    run_ponder(gen, prompts, 0), run_hf(gen, prompts, 0)  # warm-up
    for r in range(args.repeats):
        runs["ponder"].append(run_ponder(gen, prompts, r + 1))
        runs["hf_generate"].append(run_hf(gen, prompts, r + 1))
    result = {"model": args.model, "prompts": PROMPTS, "n": N, "max_new_tokens": MAX_NEW, "threads": args.threads}
    for name, rs in runs.items():
        result[name] = {
            "seconds": [round(s, 3) for s, _ in rs],
            "tokens": [t for _, t in rs],
            "median_tok_s": round(statistics.median(t / s for s, t in rs), 1),
            "median_seconds": round(statistics.median(s for s, _ in rs), 3),
        }
    result["speedup_seconds"] = round(result["hf_generate"]["median_seconds"] / result["ponder"]["median_seconds"], 2)
    result["loadavg_before"], result["loadavg_after"] = load_before, os.getloadavg()
    result["when_utc"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    write_json(OUT, result)
    print(result)


if __name__ == "__main__":
    main()
