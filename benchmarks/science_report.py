"""Verdicts and the report of the science run (benchmarks/tiny_science.py).

`verdicts(data)`: one line per (claim, task): what was compared, the measured numbers, and
"reproduces" only where the paired 95% bootstrap interval of the difference (same problems,
ponder.eval.bootstrap.paired_diff_ci) lies above zero; otherwise "does not reproduce" with
"(worse)" when it lies below zero and "(no resolved difference)" when it holds zero. Claims that
compare runs without per-problem results (distillation against RL before session 5) use the two
Wilson intervals.
A claim whose cells did not run says so ("not run") instead of a verdict.
`write_report(data, folder)`: science_<model>.md (verdicts, every curve cell, the temperature
sweep, the `wait` continuations) and two PNGs drawn by ponder.eval.plots.plot_tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from science_curves import majority_vs_greedy, paired

from ponder.eval.plots import plot_tasks
from ponder.io import atomic_write

SEARCHERS = ("beam/check", "dvts/check", "mcts/check", "particle_filter/check")


def find(rows: list[dict], task: str, strategy: str, budget: int | None = None) -> dict | None:
    got = [r for r in rows if r["task"] == task and r["strategy"] == strategy and budget in (None, r["budget"])]
    return max(got, key=lambda r: r["budget"]) if got else None


def judged(claim: str, task: str, a: dict | None, b: dict | None, what: str) -> dict[str, Any]:
    """Claim "b beats a" on the same problems."""
    if a is None or b is None:
        return {"claim": claim, "task": task, "compared": what, "verdict": "not run"}
    d = paired(a, b)
    verdict = (
        "reproduces"
        if d["better"]
        else "does not reproduce " + ("(worse)" if d["worse"] else "(no resolved difference)")
    )
    measured = (f"{b['accuracy']:.3f} [{b['ci_low']:.2f}, {b['ci_high']:.2f}] vs {a['accuracy']:.3f} "
                f"[{a['ci_low']:.2f}, {a['ci_high']:.2f}]; diff {d['diff']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}]; "
                f"tokens {b['mean_generated_tokens']:.0f} vs {a['mean_generated_tokens']:.0f}")  # fmt: skip
    short = f"{b['accuracy']:.3f} vs {a['accuracy']:.3f}, {d['diff']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}]"
    return {
        "claim": claim,
        "task": task,
        "compared": what,
        "measured": measured,
        "short": short,
        "verdict": verdict,
        **d,
    }


def flags_row(task: str, label: str, flags: str, tokens: float) -> dict:
    from ponder.stats import wilson

    k, n = flags.count("1"), len(flags)
    lo, hi = wilson(k, n)
    return {"task": task, "strategy": label, "accuracy": k / n, "ci_low": lo, "ci_high": hi, "flags": flags,
            "mean_generated_tokens": tokens, "budget": 1}  # fmt: skip


def task_verdicts(data: dict, task: str) -> list[dict]:
    rows = data["rows"]
    greedy = find(rows, task, "greedy")
    top = max((r["budget"] for r in rows if r["task"] == task and r["strategy"] == "majority"), default=None)
    maj = find(rows, task, "majority", top)
    out = [
        judged("A verifier turns samples into accuracy (best-of-N by the step checker > greedy)", task, greedy,
               find(rows, task, "best_of_n/check", top), f"best_of_n/check@{top} vs greedy"),
        judged("Self-consistency: majority vote > greedy (T=0.8)", task, greedy, maj, f"majority@{top} vs greedy"),
        judged("The model's confidence picks well (best-of-N by confidence > majority)", task, maj,
               find(rows, task, "best_of_n/confidence", top), f"best_of_n/confidence@{top} vs majority@{top}"),
        judged("Confidence-filtered voting (DeepConf offline) > majority", task, maj,
               find(rows, task, "deepconf/offline", 16), "deepconf/offline@16 vs majority@16"),
    ]  # fmt: skip
    for label in ("esc", "adaptive_consistency", "deepconf/online"):
        r = judged(f"Early-stopped voting ({label}) saves tokens at majority's accuracy", task, maj,
                   find(rows, task, label, 16), f"{label}@16 vs majority@16")  # fmt: skip
        if "diff" in r:
            saved = 1 - find(rows, task, label, 16)["mean_generated_tokens"] / maj["mean_generated_tokens"]
            r["tokens_saved"] = round(saved, 3)
            ok = saved >= 0.2 and not r["worse"]
            r["verdict"] = "reproduces" if ok else "does not reproduce"
            r["measured"] += f"; {100 * saved:.0f}% fewer tokens (claimed: 34-80%)"
            r["short"] += f"; {100 * saved:.0f}% fewer tokens"
        out.append(r)
    for label in SEARCHERS:
        for b in (4, 16):
            out.append(judged(f"Step-level search ({label}) > best-of-N by the same checker at equal budget", task,
                              find(rows, task, "best_of_n/check", b), find(rows, task, label, b),
                              f"{label}@{b} vs best_of_n/check@{b}"))  # fmt: skip
    ref = data.get("reflect", {}).get(task)
    if ref and greedy:
        w, s = ref["wait"], ref["reflection"]
        out.append(judged("`wait`-forcing (s1) > greedy", task, greedy,
                          flags_row(task, "wait", w["after"], w["tokens"]), "budget_forcing wait x1 vs greedy"))  # fmt: skip
        out.append(judged("`wait`-forcing > answering the same thought at once", task,
                          flags_row(task, "no wait", w["before"], 0.0), flags_row(task, "wait", w["after"], w["tokens"]),
                          "after one forced `wait` vs the answer forced before it"))  # fmt: skip
        out.append(judged("The reflection prompt > greedy", task, greedy,
                          flags_row(task, "reflection", s["after"], s["tokens"]), "refine critic=self, 2 rounds vs greedy"))  # fmt: skip
    temps = [r for r in data.get("temps", []) if r["task"] == task]
    if greedy and temps:
        k = max(r["budget"] for r in temps)
        temps += [r for r in rows if r["task"] == task and r["strategy"] == "majority" and r["budget"] == k]
        temps.sort(key=lambda r: r["temperature"])
        sweep = majority_vs_greedy(greedy, temps, k)
        wins = [t for t, v in sweep.items() if v["better"]]
        cells = "; ".join(f"T={t}: {v['majority']:.3f} ({v['diff']:+.3f} [{v['ci'][0]:+.3f}, {v['ci'][1]:+.3f}])"
                          for t, v in sweep.items())  # fmt: skip
        out.append({"claim": f"Majority@{k} > greedy at some temperature", "task": task,
                    "compared": f"majority@{k} at each T vs greedy {greedy['accuracy']:.3f}", "measured": cells,
                    "verdict": f"reproduces at T={', '.join(wins)}" if wins else "does not reproduce at any T tried",
                    "sweep": sweep})  # fmt: skip
    prm = find(rows, task, "best_of_n/prm", top)
    out.append(judged("A learned PRM > model confidence (best-of-N)", task,
                      find(rows, task, "best_of_n/confidence", top), prm, f"best_of_n/prm@{top} vs confidence")
               if prm else {"claim": "A learned PRM > model confidence (best-of-N)", "task": task,
                            "compared": "hook", "verdict": "not run here (no --prm; see i16-prm's rm_search results)"})  # fmt: skip
    return out


def distill_verdict(data: dict) -> dict:
    """Distilled against GRPO student on the same held-out problems: the paired bootstrap when the
    result has per-problem flags (session 5 on), else the two Wilson intervals (older results)."""
    d = data.get("distill")
    equal = "equal FLOPs" if d and "grpo_flops" in d else "equal wall time"
    claim = f"Distillation from a stronger model > RL on the small model at {equal} (R1 4.1)"
    if not d or "student_distilled" not in d:
        return {
            "claim": claim,
            "task": "-",
            "verdict": "not run: " + str((d or {}).get("skipped") or (d or {}).get("error")),
        }
    a, b = d["student_grpo"], d["student_distilled"]
    if a.get("flags") and b.get("flags"):
        p = paired(a, b)
        verdict = "reproduces" if p["better"] else "does not reproduce " + (
            "(worse)" if p["worse"] else "(no resolved difference)")  # fmt: skip
        diff = f"; diff {p['diff']:+.3f} [{p['ci'][0]:+.3f}, {p['ci'][1]:+.3f}] paired"
    else:
        verdict = ("reproduces" if b["ci_low"] > a["ci_high"] else "does not reproduce "
                   + ("(worse)" if b["ci_high"] < a["ci_low"] else "(intervals overlap)"))  # fmt: skip
        diff = ""
    spent = (f"; {d['distill_flops']:.2g} vs {d['grpo_flops']:.2g} FLOPs, GRPO groups with reward variance "
             f"{d['grpo_nonzero_variance_groups']:.0%}" if "grpo_flops" in d else "")  # fmt: skip
    measured = (f"distilled {b['accuracy']:.3f} [{b['ci_low']:.2f}, {b['ci_high']:.2f}] ({d['distill_steps']} steps) vs "
                f"GRPO {a['accuracy']:.3f} [{a['ci_low']:.2f}, {a['ci_high']:.2f}] ({d['grpo_steps']} steps){diff}; start "
                f"{d['student_init']['accuracy']:.3f}, teacher {d['teacher']['accuracy']:.3f}{spent}")  # fmt: skip
    return {"claim": claim, "task": d["args"]["task"], "compared": "held-out greedy", "measured": measured,
            "verdict": verdict}  # fmt: skip


def verdicts(data: dict) -> list[dict]:
    tasks = list(dict.fromkeys(r["task"] for r in data["rows"])) or list(data.get("reflect", {}))
    return [v for t in tasks for v in task_verdicts(data, t)] + [distill_verdict(data)]


def _curve_table(rows: list[dict]) -> list[str]:
    lines = [
        "| task | strategy | budget | accuracy | 95% Wilson | gen tokens / problem | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["task"], r["strategy"], r["budget"])):
        lines.append(f"| {r['task']} | {r['strategy']} | {r['budget']} | {r['accuracy']:.3f} | "
                     f"{r['ci_low']:.3f}–{r['ci_high']:.3f} | {r['mean_generated_tokens']:.0f} | {r['seconds']:.0f} |")  # fmt: skip
    return lines


def _reflect_lines(reflect: dict) -> list[str]:
    lines = ["| task | `wait` inserted | confirmation | fix | derailment | other | no `wait` (cap) | reflection: fixes / derailments / answer unchanged |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for task, r in reflect.items():
        c = r["wait"]["continuations"]
        cell = [
            f"{c[k]['count']} ({c[k]['share']:.2f})" if c["n"] else "0"
            for k in ("confirmation", "fix", "derailment", "other")
        ]
        s = r["reflection"]
        lines.append(f"| {task} | {c['n']} | " + " | ".join(cell) + f" | {r['wait']['no_wait_inserted']} | "
                     f"{s['fix']} / {s['derailment']} / {s['answer_unchanged']} |")  # fmt: skip
    for task, r in reflect.items():
        for kind, texts in r["wait"]["examples"].items():
            lines += [f"\n{task}, {kind}:", "```", texts[0].strip(), "```"] if texts else []
    return lines


def write_report(data: dict, folder: Path) -> Path:
    """science_<model>.md and its PNGs in `folder`; returns the md's path."""
    m = data["meta"]
    stem = f"science_{m['model']}"
    tasks = list(dict.fromkeys(r["task"] for r in data["rows"]))
    figs = {}
    if data["rows"]:
        figs["curves"] = plot_tasks(data["rows"], tasks)
    greedy = [r for r in data["rows"] if r["strategy"] == "greedy"]
    if data["temps"]:
        figs["temps"] = plot_tasks(data["temps"] + greedy, list(dict.fromkeys(r["task"] for r in data["temps"])))
    for name, png in figs.items():
        with atomic_write(folder / f"{stem}_{name}.png", "wb") as f:
            f.write(png)
    md = [f"# The seeds' claims on `{m['model']}` (benchmarks/tiny_science.py)", "",
          f"Model `{m['model']}` ({m['n_params']:,} parameters, weights sha256 `{m['weights_sha256'][:12]}…`, commit "
          f"`{m['commit'][:9]}`), {m['n']} problems per task (seed {m['problem_seed']}, levels {m['tasks']}), "
          f"{m['when_utc']}, {m['torch_threads']} torch thread, load {m['loadavg_start'][0]:.1f} → "
          f"{m['loadavg_end'][0]:.1f}, {m['wall_minutes']} min wall / {m['cpu_minutes']} min CPU. "
          f"Command: `{m['command']}`.", "",
          "Verdict rule: *reproduces* only where the paired 95% bootstrap interval of the difference lies above 0.", "",
          "| claim | task | compared | measured | verdict |", "|---|---|---|---|---|"]  # fmt: skip
    for v in data["verdicts"]:
        md.append(
            f"| {v['claim']} | {v['task']} | {v.get('compared', '')} | {v.get('measured', '')} | **{v['verdict']}** |"
        )
    md += [
        "",
        f"![curves]({stem}_curves.png)" if "curves" in figs else "",
        "",
        "## Every cell",
        "",
        *_curve_table(data["rows"]),
    ]
    if data["temps"]:
        md += ["", "## Majority vote against greedy by temperature", "", f"![temperatures]({stem}_temps.png)", "",
               *_curve_table(data["temps"])]  # fmt: skip
    if data["reflect"]:
        md += ["", "## What the model writes after `wait`", "", *_reflect_lines(data["reflect"])]
    md += ["", f"Skipped by the time box: {', '.join(data['skipped']) or 'nothing'}.",
           f"Seconds per part: {data['part_seconds']}.", f"PRM: {data['prm']}.", f"Distillation: {data.get('distill')}."]  # fmt: skip
    path = folder / f"{stem}.md"
    with atomic_write(path) as f:
        f.write("\n".join(md) + "\n")
    return path


BEGIN, END = "<!-- science:begin -->", "<!-- science:end -->"


def docs_table(data: dict) -> str:
    """One row per claim (as compared), one column per task: numbers and the verdict."""
    m = data["meta"]
    tasks = list(dict.fromkeys(v["task"] for v in data["verdicts"] if v["task"] != "-"))
    by: dict[tuple, dict] = {}
    for v in data["verdicts"]:
        by.setdefault((v["claim"], v.get("compared", "").split(" vs greedy ")[0]), {})[v["task"]] = v
    head = (f"Model `{m['model']}` ({m['n_params']:,} parameters, weights `{m['weights_sha256'][:12]}…`), "
            f"{m['n']} problems per task, {m['when_utc']}, load {m['loadavg_start'][0]:.1f} → "
            f"{m['loadavg_end'][0]:.1f}, {m['wall_minutes']} min; every cell: "
            f"`benchmarks/results/science_{m['model']}.md`.")  # fmt: skip
    lines = [head, "", "| claim (compared) | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
    for (claim, compared), cells in by.items():
        row = []
        for j, t in enumerate(tasks):
            v = cells.get(t) or (cells.get("-") if j == 0 else None)
            row.append(f"{v.get('short', v.get('measured', ''))} **{v['verdict']}**".strip() if v else "")
        lines.append(f"| {claim} ({compared}) | " + " | ".join(row) + " |")
    return "\n".join(lines)


def update_docs(path: Path, data: dict) -> None:
    """Replace the block between BEGIN and END in `path` with docs_table(data)."""
    text = path.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path} has no {BEGIN} ... {END} block")
    head, rest = text.split(BEGIN, 1)
    with atomic_write(path) as f:
        f.write(f"{head}{BEGIN}\n{docs_table(data)}\n{END}{rest.split(END, 1)[1]}")
