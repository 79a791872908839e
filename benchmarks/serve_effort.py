"""The reasoning_effort table measured through `ponder serve` on the tiny reasoner.

One server subprocess (loopback, free port); for each effort level, N arithmetic and N Countdown
problems (held-out seed 1000, each task's default level) are sent as chat requests by C client
threads (the official openai client, `seed=0`). Each reply's `<think>reasoning</think>
<answer>content</answer>` is scored by ponder's rule-based verifier. Reports per level and task:
accuracy with a 95% Wilson interval, mean returned completion and reasoning tokens, mean tokens
the search generated (the `ponder.cost` field), empty contents (must be 0), errors, wall time.
Writes serve_effort.{json,md} beside this file.

    PYTHONPATH=. python benchmarks/serve_effort.py --n 100 --clients 32
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from serve_load import start_server, wait_ready

from ponder.eval.estimators import wilson
from ponder.search.effort import EFFORT_LEVELS
from ponder.tasks import make_problems
from ponder.verify import verify

HERE = Path(__file__).parent


def ask(client, problem, effort: str) -> dict:
    try:
        r = client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": problem.question}], reasoning_effort=effort, seed=0
        )
    except Exception as e:  # counted, reported
        return {"error": repr(e)[:200]}
    msg = r.choices[0].message
    return {
        "reasoning": msg.model_extra.get("reasoning"),
        "content": msg.content,
        "completion_tokens": r.usage.completion_tokens,
        "reasoning_tokens": r.usage.completion_tokens_details.reasoning_tokens,
        "search_tokens": r.model_extra["ponder"]["cost"]["generated_tokens"],
    }


def measure(url: str, effort: str, task: str, problems: list, clients: int) -> dict:
    import openai

    client = openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=1800)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        replies = list(pool.map(lambda p: ask(client, p, effort), problems))
    wall = time.perf_counter() - t0
    ok = [(p, r) for p, r in zip(problems, replies) if "error" not in r]
    traces = [f"<think>{r['reasoning'] or ''}</think>\n<answer>{r['content']}</answer>" for _, r in ok]
    scores = verify([p for p, _ in ok], traces) if ok else []
    correct = sum(s.correct for s in scores)
    lo, hi = wilson(correct, len(problems))
    mean = lambda key: round(sum(r[key] for _, r in ok) / max(1, len(ok)), 1)  # noqa: E731
    return {
        "effort": effort,
        "task": task,
        "n": len(problems),
        "accuracy": round(correct / len(problems), 3),
        "ci95": [round(lo, 3), round(hi, 3)],
        "completion_tokens": mean("completion_tokens"),
        "reasoning_tokens": mean("reasoning_tokens"),
        "search_tokens": mean("search_tokens"),
        "empty_content": sum(not r["content"] for _, r in ok),
        "errors": len(problems) - len(ok),
        "error_samples": [r["error"] for r in replies if "error" in r][:3],
        "wall_s": round(wall, 1),
    }


def main() -> None:
    from ponder.serve.testing import free_port

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--levels", nargs="*", default=list(EFFORT_LEVELS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=HERE / "serve_effort")
    args = ap.parse_args()
    tasks = {t: make_problems(t, args.n, seed=1000) for t in ("arithmetic", "countdown")}
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    proc = start_server(port, args.threads, ["--max-concurrent", str(args.clients)])
    rows, load_before = [], os.getloadavg()
    try:
        wait_ready(url, proc)
        for effort in args.levels:
            for task, problems in tasks.items():
                rows.append(measure(url, effort, task, problems, args.clients))
                print(json.dumps(rows[-1]), flush=True)
                write(args, rows, load_before)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def write(args, rows: list[dict], load_before) -> None:
    res = {
        "n": args.n,
        "clients": args.clients,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "table": {
            k: {"strategy": e.strategy, "budget": e.budget, "think_tokens": e.think_tokens, **e.options}
            for k, e in EFFORT_LEVELS.items()
        },
        "rows": rows,
    }
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    lines = [
        f"# reasoning_effort through ponder serve: tiny reasoner, {args.n} problems per task (seed 1000)",
        "",
        f"Machine: {res['machine']}; {args.clients} concurrent clients; load average before "
        f"{res['load_before']}, after {res['load_after']}.",
        "",
        "| effort | task | accuracy | 95% CI | completion tokens | reasoning tokens | search tokens | empty | errors | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['effort']} | {r['task']} | {r['accuracy']} | {r['ci95'][0]}–{r['ci95'][1]} | {r['completion_tokens']} | "
            f"{r['reasoning_tokens']} | {r['search_tokens']} | {r['empty_content']} | {r['errors']} | {r['wall_s']} |"
        )
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
