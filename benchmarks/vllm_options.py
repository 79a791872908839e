"""Which vLLM engine options make beam search on the tiny reasoner fast, with prefix caching on and off.

For each option set (e.g. `seqs1024:max_num_seqs=1024`), both engines (caching on, caching off)
are built with those options and measured as in `vllm_prefix.py` (beam budget 8, width 4, check
scorer, 100 Countdown problems, the tiny reasoner's own prompts; each run from an empty prefix
cache, on/off alternating). Recorded per set: engine start seconds, median wall and CPU seconds
on and off, the on/off speed-up, accuracy and generated tokens (which must not change with
options that only affect speed). This is how the defaults in `ponder/gen/vllm.py` were chosen.

    flock /tmp/ponder-bench.lock env PYTHONPATH=. python benchmarks/vllm_options.py \\
        --sets base: seqs1024:max_num_seqs=1024 compiled:enforce_eager=false
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from benchmarks.vllm_prefix import beam_meta, build_engines, parse_option, setting

OUT = Path(__file__).parent / "results" / "vllm_options.json"


def parse_set(text: str) -> tuple[str, dict]:
    """ "seqs1024:max_num_seqs=1024,block_size=64" -> ("seqs1024", {...}); "base:" has no options."""
    name, _, rest = text.partition(":")
    return name, dict(parse_option(o) for o in rest.split(",") if o)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", default=["base:"], help="NAME:KEY=V,KEY=V ... (vLLM generator options)")
    ap.add_argument("--n", type=int, default=100, help="Countdown problems")
    ap.add_argument("--budget", type=int, default=8)
    ap.add_argument("--width", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--shots", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", default="tiny", help="built-in name or weights folder (e.g. tiny-v2)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    args.profile = False
    import torch

    from ponder.io import write_json
    from ponder.tasks import make_problems

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    problems = make_problems("countdown", args.n, seed=2024)
    results = []
    for name, opts in map(parse_set, args.sets):
        t0 = time.perf_counter()
        engines, start_seconds = build_engines(opts, args.model)
        out = {"name": name, "options": opts, "engine_start_seconds": start_seconds}
        out["block_size"] = engines["on"].block_size  # what the engine took
        out.update(setting(engines, problems, args.shots, args))
        out["set_seconds"] = round(time.perf_counter() - t0, 1)
        for g in engines.values():
            g.close()
        results.append(out)
        print(
            f"{name}: on {out['seconds_median_on']} s, off {out['seconds_median_off']} s, x{out['speedup']}", flush=True
        )
    result = {"sets": results}
    result["meta"] = beam_meta(args, load_before, shots=args.shots)
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
