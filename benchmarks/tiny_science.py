"""The seeds' science on one model, in one run: test-time scaling curves for every strategy,
majority vote against greedy across temperatures, `wait`-forcing and the reflection prompt,
distillation against RL, and the learned-PRM row; then a verdict per claim.

Parts (`--parts`, in this order; each gets a share of `--budget-minutes` and stops at its
deadline, listing what it skipped):
  curves   greedy, the T=0.8 pool (majority, best-of-N by checker / confidence / PRM, weighted),
           then every search strategy at a few budgets (science_curves.py);
  reflect  `wait`-forcing and the reflection prompt against greedy, continuations classed
           (science_reflect.py);
  temps    majority@k at each of `--temperatures` against greedy (science_curves.py);
  distill  benchmarks/train_distill_vs_rl.py at equal FLOPs (`--distill-grpo-steps` GRPO steps, the
           distill arm gets their FLOPs; `--distill-minutes` is the time planned per arm) from the student
           start kept in `--student` (the common start of both arms, SFT on reference traces; made
           in the budget only with `--make-student`, and kept for the next model's run); skipped,
           and said so, without a start or when the time left is less than it needs;
  prm      with `--prm TASK=DIR ..` (PRM folders, e.g. from benchmarks/rm_search.py's recipe) those
           tasks' curves get best_of_n/prm from the same pool (min over steps); without it the hook
           is recorded as not run.
Problems: `--n` per task at the task's default level (Countdown 3 numbers, arithmetic 4
operands), seed 1000 (the stream search_budget.py and testtime_methods.py use). 1 torch thread.
Writes benchmarks/results/science_<model>.json and, by science_report.py, science_<model>.md
with PNG curves drawn by ponder.eval.plots.

    PYTHONPATH=. python benchmarks/tiny_science.py --model tiny --budget-minutes 28
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import science_curves as SC
import science_reflect as SR
from science_report import update_docs, verdicts, write_report
from testtime_methods import model_record

from ponder.gen import load_generator
from ponder.gen.cache import CachedGenerator
from ponder.io import write_json
from ponder.tasks import get_task, make_problems

HERE = Path(__file__).parent
PARTS = ("curves", "reflect", "temps", "distill", "prm")
WEIGHTS = {"curves": 0.62, "reflect": 0.1, "temps": 0.28}  # shares of the time the distill part leaves
PROBLEM_SEED = 1000
log = logging.getLogger("science")


def deadlines(budget_s: float, parts: list[str], distill_s: float) -> dict[str, float]:
    """Seconds each timed part may take: the distill part's own need first, the rest by WEIGHTS."""
    rest = max(budget_s - (distill_s if "distill" in parts else 0.0), 0.0)
    total = sum(WEIGHTS[p] for p in parts if p in WEIGHTS) or 1.0
    return {p: rest * WEIGHTS[p] / total for p in parts if p in WEIGHTS}


def run_curves(a, gen, problems, out: dict, until: float) -> None:
    prms = dict(spec.split("=", 1) for spec in a.prm or [])  # task -> PRM folder
    for task, probs in problems.items():
        scorers, picks = {"check": "check", "confidence": "confidence"}, list(SC.POOL_PICKS)
        if task in prms:
            from ponder.rm.scorers import PRMScorer

            scorers["prm"] = PRMScorer.load(prms[task], agg="min")
            picks.append(("best_of_n/prm", "prm", "best"))
        g, res = SC.greedy_row(a.model, task, probs, gen)
        out["rows"].append(g)
        out["greedy_results"][task] = res
        t0 = time.time()
        out["rows"] += SC.pool_rows(a.model, task, probs, gen, a.pool, scorers, picks=picks)
        log.info(
            "%s greedy %.3f (%.0fs); pool of %d in %.0fs", task, g["accuracy"], g["seconds"], a.pool, time.time() - t0
        )
    out["rows"] += SC.search_rows(a.model, problems, gen, until, out["skipped"], lambda r: log.info(
        "%s %s@%d %.3f (%.0f tok, %.0fs)", r["task"], r["strategy"], r["budget"], r["accuracy"],
        r["mean_generated_tokens"], r["seconds"]), only=a.strategies)  # fmt: skip


def greedy_of(a, gen, task: str, probs, out: dict) -> list:
    """The task's greedy results (the baseline of every part), run here when the curves did not."""
    if task not in out["greedy_results"]:
        row, out["greedy_results"][task] = SC.greedy_row(a.model, task, probs, gen)
        out["rows"].append(row)
    return out["greedy_results"][task]


def run_reflect(a, gen, problems, out: dict) -> None:
    for task, probs in problems.items():
        greedy = greedy_of(a, gen, task, probs, out)
        out["reflect"][task] = {
            "wait": SR.wait_study(probs, gen, a.wait_text, a.think_tokens),
            "reflection": SR.reflection_study(probs, gen, greedy),
        }
        log.info("%s reflect done", task)


def run_temps(a, gen, problems, out: dict, until: float) -> None:
    for task, probs in problems.items():
        greedy_of(a, gen, task, probs, out)
        out["temps"] += SC.temperature_rows(
            a.model, task, probs, gen, a.temperatures, a.temp_pool, until, out["skipped"]
        )


def has_student(a) -> bool:
    return (Path(a.student) / "student0" / "config.json").is_file()


def distill_need_s(a) -> float:
    """Wall time the distill part needs: both arms, the student's start (unless reused), the
    teacher's samples and the report (the last two measured at ~1-2 minutes each on one core)."""
    if not has_student(a) and not a.make_student:
        return 0.0
    return 60 * (2 * a.distill_minutes + (0.0 if has_student(a) else a.student_minutes) + 3.0)


def run_distill(a, out: dict, left_s: float) -> None:
    need = distill_need_s(a)
    if not need:
        out["distill"] = {"skipped": f"no student start in {a.student}/student0 (make one: --make-student)"}
        return
    if need > left_s:
        out["distill"] = {"skipped": f"over budget: needs ~{need / 60:.0f} min, {left_s / 60:.0f} min left"}
        return
    work = Path(a.work) / "distill_vs_rl"
    student = Path(a.student) / "student0"
    shutil.rmtree(work, ignore_errors=True)  # its phases skip what exists: an earlier model's traces must go
    if student.is_dir():
        shutil.copytree(student, work / "student0")
    result = a.out_dir / f"science_{a.model}_distill_vs_rl.json"
    cmd = [sys.executable, str(HERE / "train_distill_vs_rl.py"), "--phase", "init,teacher,grpo,distill,report",
           "--work", str(work), "--teacher", a.model, "--task", a.distill_task, "--level", str(a.distill_level),
           "--grpo-steps", str(a.distill_grpo_steps), "--init-minutes", str(a.student_minutes), "--eval-n", str(a.n),
           "--teacher-problems", "400", "--threads", "1", "--out", str(result)]  # fmt: skip
    proc = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(HERE.parent)}, timeout=need + 600)
    if proc.returncode != 0:
        out["distill"] = {"error": f"train_distill_vs_rl.py exited {proc.returncode}"}
        return
    if not student.is_dir():  # keep the start for the next model's run
        shutil.copytree(work / "student0", student)
    out["distill"] = json.loads(result.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny")
    ap.add_argument(
        "--budget-minutes", type=float, default=28.0, help="the time box; in-flight cells may pass it by ~1 min"
    )
    ap.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    ap.add_argument("--tasks", nargs="+", default=["countdown", "arithmetic"])
    ap.add_argument("--n", type=int, default=200, help="problems per task")
    ap.add_argument("--pool", type=int, default=32, help="samples per problem in the curves' pool (T=0.8)")
    ap.add_argument("--temp-pool", type=int, default=16, help="samples per problem at each temperature")
    ap.add_argument("--strategies", nargs="+", default=None, choices=[c[0] for c in SC.SEARCH],
                    help="only these search cells of the curves (default: all)")  # fmt: skip
    ap.add_argument("--temperatures", type=float, nargs="+", default=[0.3, 0.5, 0.7, 1.0])
    ap.add_argument("--wait-text", default=SC.WAIT_TEXT)
    ap.add_argument("--think-tokens", type=int, default=400, help="thinking cap of the wait study")
    ap.add_argument("--prm", nargs="+", default=None, metavar="TASK=DIR",
                    help="learned PRM folders by task: adds best_of_n/prm to that task's curves")  # fmt: skip
    ap.add_argument("--distill-minutes", type=float, default=4.0, help="wall time planned for each arm")
    ap.add_argument("--distill-grpo-steps", type=int, default=60, help="GRPO steps; distillation gets their FLOPs")
    ap.add_argument("--distill-task", default="countdown")
    ap.add_argument("--distill-level", type=int, default=3)
    ap.add_argument("--student", default="runs/science_student", help="where the students' common start is kept")
    ap.add_argument("--make-student", action="store_true", help="train that start within the budget when absent")
    ap.add_argument("--student-minutes", type=float, default=5.0, help="its SFT (wall minutes)")
    ap.add_argument("--work", default=None, help="run folder (default runs/science_<model>)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out-dir", type=Path, default=HERE / "results")
    ap.add_argument("--docs", type=Path, default=None, help="write the verdict table into this page's science block")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    import torch

    torch.set_num_threads(a.threads)
    a.work = a.work or f"runs/science_{a.model}"
    start, load0 = time.time(), os.getloadavg()
    cpu0 = time.process_time()
    gen = CachedGenerator(load_generator(a.model))
    problems = {t: make_problems(t, a.n, get_task(t).default_level, PROBLEM_SEED) for t in a.tasks}
    out = {"rows": [], "temps": [], "reflect": {}, "skipped": [], "greedy_results": {}, "part_seconds": {}}
    share = deadlines(60 * a.budget_minutes, a.parts, distill_need_s(a))
    for part in [p for p in PARTS if p in a.parts]:
        t0, c0 = time.time(), time.process_time()
        if part == "curves":
            run_curves(a, gen, problems, out, t0 + share["curves"])
        elif part == "reflect":
            run_reflect(a, gen, problems, out)
        elif part == "temps":
            run_temps(a, gen, problems, out, t0 + share["temps"])
        elif part == "distill":
            run_distill(a, out, 60 * a.budget_minutes - (time.time() - start))
        out["part_seconds"][part] = {"wall": round(time.time() - t0, 1), "cpu": round(time.process_time() - c0, 1)}
        save(a, out, gen, start, cpu0, load0)  # after every part: a run cut short keeps what it finished


def save(a, out: dict, gen, start: float, cpu0: float, load0: tuple) -> None:
    """Write science_<model>.json (with verdicts) and its report from what has run so far."""
    data = {k: v for k, v in out.items() if k != "greedy_results"}
    data["prm"] = {"folders": a.prm} if a.prm else {"hook": "not run: pass --prm TASK=DIR (trained PRM folders)"}
    data["meta"] = {
        **model_record(a.model), "n_params": gen.n_params, "tasks": {t: get_task(t).default_level for t in a.tasks},
        "n": a.n, "problem_seed": PROBLEM_SEED, "search_seed": 0, "pool": a.pool, "pool_temperature": 0.8,
        "temp_pool": a.temp_pool, "torch_threads": a.threads, "budget_minutes": a.budget_minutes, "parts": a.parts,
        "parts_done": list(out["part_seconds"]), "loadavg_start": load0, "loadavg_end": os.getloadavg(),
        "wall_minutes": round((time.time() - start) / 60, 2), "cpu_minutes": round((time.process_time() - cpu0) / 60, 2),
        "when_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other sessions, no GPU",
        "command": " ".join(sys.argv),
    }  # fmt: skip
    data["verdicts"] = verdicts(data)
    path = a.out_dir / f"science_{a.model}.json"
    write_json(path, data)
    log.info("wrote %s and %s", path, write_report(data, a.out_dir))
    if a.docs:
        update_docs(a.docs, data)


if __name__ == "__main__":
    main()
