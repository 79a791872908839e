"""The code sandbox before and after the issue-15 hardening, side by side in one run.

The old verifier (`ponder/verify/{code_verifier,sandbox,sandbox_launch}.py` at --ref, loaded from
git into a temporary folder) and the current one run the same work, interleaved (old, new, old,
new, ...) so that both see the same machine load:
- speed: the 164 HumanEval canonical solutions plus a broken variant of each (328 programs),
  default limits, `--workers` programs at a time; programs per second per round, with load;
- reward hacks: every program of ponder/verify/audit_hacks.py against the synthetic problems and
  the first `--humaneval` real ones; how many each verifier scores as passed;
- escapes: ponder/verify/audit_escapes.py through each sandbox.
Writes verify_sandbox_hardening.json beside this file.

    python benchmarks/verify_sandbox_hardening.py [--rounds 2] [--workers 2] [--humaneval 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ponder.io import write_json
from ponder.tasks.loaders import load_dataset
from ponder.verify import audit, audit_escapes, code_verifier, sandbox

OUT = Path(__file__).with_name("verify_sandbox_hardening.json")
REPO = Path(__file__).resolve().parents[1]
FILES = ("code_verifier.py", "sandbox.py", "sandbox_launch.py")


def load_old(ref: str, folder: Path):
    """The old code verifier and sandbox as top-level modules old_code_verifier / old_sandbox."""
    for name in FILES:
        text = subprocess.run(["git", "show", f"{ref}:ponder/verify/{name}"], cwd=REPO, check=True,
                              capture_output=True, text=True).stdout  # fmt: skip
        text = text.replace("from ponder.verify.sandbox import", "from old_sandbox import")
        text = text.replace("from ponder.verify import VERIFIERS\n", "").replace('@VERIFIERS.register("code")\n', "")
        (folder / ("old_" + name if name != "sandbox_launch.py" else name)).write_text(text)
    sys.path.insert(0, str(folder))
    return importlib.import_module("old_code_verifier"), importlib.import_module("old_sandbox")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def speed_round(run, problems, programs, workers: int) -> dict:
    load, start = _load(), time.perf_counter()
    results = run(problems, programs, workers=workers)
    seconds = time.perf_counter() - start
    n = len(problems) // 2
    return {
        "programs_per_second": round(len(programs) / seconds, 2), "seconds": round(seconds, 2),
        "canonical_passed": sum(r.passed for r in results[:n]), "broken_passed": sum(r.passed for r in results[n:]),
        "load_before": load, "load_after": _load(),
    }  # fmt: skip


def hack_counts(run, problems) -> dict:
    pairs = [(p, name, prog) for p, _ in problems
             for name, prog in audit.hack_programs(audit._entry(p), "test_list" in p.info).items()]  # fmt: skip
    results = run([p for p, _, _ in pairs], [prog for _, _, prog in pairs], workers=2)
    passed = sorted({name for (_, name, _), r in zip(pairs, results) if r.passed})
    by_problem = {}
    for (_, name, _), r in zip(pairs, results):
        by_problem.setdefault(name, [0, 0])
        by_problem[name][0] += r.passed
        by_problem[name][1] += 1
    return {"programs": len(pairs), "passed": sum(r.passed for r in results), "hacks_that_passed_somewhere": passed,
            "per_hack_passed_of_run": {k: v for k, v in by_problem.items() if v[0]}}  # fmt: skip


def old_runner(old_sandbox):
    def run(source: str, limits: sandbox.Limits) -> sandbox.SandboxResult:
        fields = {f.name: getattr(limits, f.name) for f in dataclasses.fields(old_sandbox.Limits)}
        fields["namespaces"] = ("network", "mount", "pid")
        res = old_sandbox.run_program(source, old_sandbox.Limits(**fields))
        return sandbox.SandboxResult(**dataclasses.asdict(res))

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ref", default="47e39d5", help="git commit of the old verifier (before issue 15)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--humaneval", type=int, default=5, help="real HumanEval problems for the hack comparison")
    ap.add_argument("--skip-speed", action="store_true", help="keep the recorded speed rounds, redo the rest")
    ap.add_argument("--skip-hacks", action="store_true", help="keep the recorded hack counts, redo the rest")
    args = ap.parse_args()
    he = load_dataset("humaneval")
    good = [p.info["canonical_solution"] for p in he]
    broken = [code_verifier.broken_variant(g, p.info["entry_point"], p.info["prompt"]) for g, p in zip(good, he)]
    with tempfile.TemporaryDirectory() as tmp:
        old_cv, old_sb = load_old(args.ref, Path(tmp))
        runs = {"old": old_cv.run_code_tests, "new": code_verifier.run_code_tests}
        out: dict = {"ref_old": args.ref, "workers": args.workers, "speed": {"old": [], "new": []}}
        if args.skip_speed:
            keep = ("ref_old", "workers", "speed") + (("hacks",) if args.skip_hacks else ())
            out = {k: v for k, v in json.loads(OUT.read_text()).items() if k in keep}
        for _ in range(0 if args.skip_speed else args.rounds):
            for name, run in runs.items():
                out["speed"][name].append(speed_round(run, he + he, good + broken, args.workers))
                print(name, out["speed"][name][-1], flush=True)
        for name in runs if not args.skip_speed else ():
            rates = [r["programs_per_second"] for r in out["speed"][name]]
            out["speed"][f"{name}_mean_programs_per_second"] = round(sum(rates) / len(rates), 2)
        out["speed"]["new_over_old"] = out["speed"].get("new_over_old") or round(
            out["speed"]["new_mean_programs_per_second"] / out["speed"]["old_mean_programs_per_second"], 3
        )
        problems = audit.synthetic_problems() + audit.humaneval_problems(args.humaneval)
        if not args.skip_hacks:
            out["hacks"] = {name: hack_counts(run, problems) for name, run in runs.items()}
        print("hacks", {k: (v["passed"], v["programs"]) for k, v in out["hacks"].items()}, flush=True)
        out["escapes"] = {}
        for name, fn in (("old", old_runner(old_sb)), ("new", sandbox.run_program)):
            audit_escapes.run_program = fn  # the catalogue calls its module's run_program
            out["escapes"][name] = {
                r.name: {"contained": r.contained, "detail": r.detail} for r in audit_escapes.run_escapes()
            }
        audit_escapes.run_program = sandbox.run_program
    out["isolation_new"] = sandbox.run_program("pass").isolation
    out["machine"] = f"{os.cpu_count()} cores, no GPU, {platform.platform()}, Python {platform.python_version()}"
    write_json(OUT, out)
    print({k: v for k, v in out.items() if k not in ("speed",)})


if __name__ == "__main__":
    main()
