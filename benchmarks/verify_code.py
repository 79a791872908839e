"""Code-execution throughput of the sandbox, and the reference solutions of HumanEval and MBPP.

Runs every HumanEval canonical solution (and a deliberately broken variant of each: every return
value of the entry point changed) and every MBPP reference solution against its tests, through
`run_code_tests` with the default limits, at the given numbers of parallel workers. Reports
programs per second, pass counts, and the MBPP reference solutions that fail (with why).
Writes verify_code.json beside this file. Other agents shared the machine: see `loadavg`.

    python benchmarks/verify_code.py [--workers 1 2 4] [--mbpp-limit N]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections import Counter
from pathlib import Path

from ponder.io import write_json
from ponder.tasks.loaders import load_dataset
from ponder.verify.code_verifier import broken_variant, run_code_tests

OUT = Path(__file__).with_name("verify_code.json")


def timed(problems, responses, workers):
    start = time.perf_counter()
    results = run_code_tests(problems, responses, workers=workers)
    return results, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--mbpp-limit", type=int, default=None)
    args = ap.parse_args()
    he = load_dataset("humaneval")
    good = [p.info["canonical_solution"] for p in he]
    broken = [broken_variant(g, p.info["entry_point"]) for g, p in zip(good, he)]
    out: dict = {"humaneval": {}, "loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    for w in args.workers:
        results, seconds = timed(he + he, good + broken, w)
        n = len(he)
        out["humaneval"][f"workers_{w}"] = {
            "programs": 2 * n, "seconds": round(seconds, 2), "programs_per_second": round(2 * n / seconds, 1),
            "canonical_passed": sum(r.passed for r in results[:n]), "broken_passed": sum(r.passed for r in results[n:]),
        }  # fmt: skip
        print(w, out["humaneval"][f"workers_{w}"])
    mbpp = load_dataset("mbpp", limit=args.mbpp_limit)
    w = max(args.workers)
    results, seconds = timed(mbpp, [p.info["code"] for p in mbpp], w)
    out["mbpp"] = {
        "programs": len(mbpp), "workers": w, "seconds": round(seconds, 2),
        "programs_per_second": round(len(mbpp) / seconds, 1), "statuses": dict(Counter(r.status for r in results)),
        "not_passed": {p.id: f"{r.status}: {r.reason}" for p, r in zip(mbpp, results) if not r.passed},
    }  # fmt: skip
    out["isolation"] = results[0].isolation if results else {}
    out["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    out["machine"] = f"{os.cpu_count()} cores, no GPU, {platform.platform()}, Python {platform.python_version()}"
    write_json(OUT, out)
    print({k: v for k, v in out.items() if k != "humaneval"})


if __name__ == "__main__":
    main()
