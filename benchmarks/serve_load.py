"""Load test of `ponder serve` on loopback: K concurrent clients for T seconds, with batching and
with one prompt per generator call (`--max-batch-prompts 1`), in one run.

Each configuration starts its own server subprocess (`python -m ponder.cli serve`, 127.0.0.1,
a free port, OMP_NUM_THREADS from --threads), warms it with one request, records its resident
memory, then runs K client threads (the official openai client) that send chat requests
(arithmetic problems, `reasoning_effort` from --effort) back to back until T seconds have passed
or --max-requests were sent. Reports per configuration: requests, errors (must be 0), p50 / p99
latency, requests/s, completion tokens/s, server RSS before and after; and the throughput ratio
batched / one-at-a-time. Writes serve_load.{json,md} beside this file.

    PYTHONPATH=. python benchmarks/serve_load.py --clients 16 --seconds 30
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).parent


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(port: int, threads: int, extra: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(HERE.parent)}
    cmd = [sys.executable, "-m", "ponder.cli", "serve", "--port", str(port), "--log-level", "warning", *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(url.removesuffix("/v1") + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not start in time")


def prompts_per_call(url: str) -> float:
    """Mean prompts per merged generator call, from the server's /metrics."""
    import httpx

    text = httpx.get(url.removesuffix("/v1") + "/metrics", timeout=10).text
    values = dict(line.split() for line in text.splitlines() if line.startswith("ponder_generator_"))
    calls = float(values.get("ponder_generator_calls", 0))
    return round(float(values.get("ponder_generator_prompts", 0)) / calls, 2) if calls else 0.0


def client_loop(url: str, questions: list[str], effort: str, stop_at: float, budget: list[int], log: list) -> None:
    import openai

    client = openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=300)
    k = 0
    while time.monotonic() < stop_at:
        with LOCK:
            if budget[0] <= 0:
                return
            budget[0] -= 1
        q = questions[k % len(questions)]
        k += 1
        t0 = time.perf_counter()
        try:
            r = client.chat.completions.create(
                model="tiny", messages=[{"role": "user", "content": q}], reasoning_effort=effort
            )
            log.append((time.perf_counter() - t0, r.usage.completion_tokens, None))
        except Exception as e:  # counted, reported
            log.append((time.perf_counter() - t0, 0, repr(e)[:200]))


LOCK = threading.Lock()


def run_config(name: str, extra: list[str], args, questions: list[str]) -> dict:
    from ponder.serve.testing import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    proc = start_server(port, args.threads, extra)
    try:
        wait_ready(url, proc)
        client_loop(url, questions[:1], args.effort, time.monotonic() + 60, [1], [])  # warm-up
        rss_before = rss_mb(proc.pid)
        log: list = []
        budget = [args.max_requests]
        t0 = time.perf_counter()
        stop_at = time.monotonic() + args.seconds
        threads = [
            threading.Thread(
                target=client_loop, args=(url, questions[i :: args.clients], args.effort, stop_at, budget, log)
            )
            for i in range(args.clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.seconds + 600)
        wall = time.perf_counter() - t0
        rss_after = rss_mb(proc.pid)
        batching = prompts_per_call(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    lat = sorted(x[0] for x in log if x[2] is None)
    errors = [x[2] for x in log if x[2] is not None]
    tokens = sum(x[1] for x in log)
    return {
        "config": name,
        "server_args": extra,
        "requests": len(log),
        "errors": len(errors),
        "error_samples": errors[:3],
        "wall_s": round(wall, 2),
        "req_per_s": round(len(lat) / wall, 2),
        "tokens_per_s": round(tokens / wall, 1),
        "p50_s": round(statistics.median(lat), 3) if lat else None,
        "p99_s": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 3) if lat else None,
        "max_s": round(lat[-1], 3) if lat else None,
        "prompts_per_generator_call": batching,
        "rss_mb_before": round(rss_before, 1),
        "rss_mb_after": round(rss_after, 1),
    }


def main() -> None:
    from ponder.tasks import make_problems

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--max-requests", type=int, default=5000)
    ap.add_argument("--effort", default="low")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the server")
    ap.add_argument("--batch-wait-ms", type=float, default=50.0, help="the batched server's gathering window")
    ap.add_argument("--rounds", type=int, default=1, help="alternate the two configurations this many times")
    ap.add_argument("--out", type=Path, default=HERE / "serve_load")
    args = ap.parse_args()
    questions = [p.question for p in make_problems("arithmetic", 400, seed=2000)]
    load_before = os.getloadavg()
    rows = []
    for _ in range(args.rounds):  # alternating, so a change in the machine's load hits both alike
        rows.append(run_config("batched", ["--batch-wait-ms", str(args.batch_wait_ms)], args, questions))
        rows.append(run_config("one_at_a_time", ["--max-batch-prompts", "1"], args, questions))
    done = {c: sum(r["requests"] - r["errors"] for r in rows if r["config"] == c) for c in ("batched", "one_at_a_time")}
    ratio = done["batched"] / done["one_at_a_time"] if done["one_at_a_time"] else None
    result = {
        "clients": args.clients,
        "seconds": args.seconds,
        "effort": args.effort,
        "server_threads": args.threads,
        "batch_wait_ms": args.batch_wait_ms,
        "rounds": args.rounds,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "throughput_ratio": round(ratio, 2) if ratio else None,
        "rows": rows,
    }
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(to_markdown(result))
    print(to_markdown(result))


def to_markdown(res: dict) -> str:
    lines = [
        f"# ponder serve under load: {res['clients']} clients x {res['seconds']:.0f} s, effort {res['effort']}",
        "",
        f"Machine: {res['machine']}; server torch threads {res['server_threads']}; "
        f"load average before {res['load_before']}, after {res['load_after']}.",
        "",
        "| config | requests | errors | req/s | tokens/s | p50 s | p99 s | max s | prompts / call | RSS MB before → after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['config']} | {r['requests']} | {r['errors']} | {r['req_per_s']} | {r['tokens_per_s']} | "
            f"{r['p50_s']} | {r['p99_s']} | {r['max_s']} | {r['prompts_per_generator_call']} | "
            f"{r['rss_mb_before']} → {r['rss_mb_after']} |"
        )
    lines += [
        "",
        f"Throughput ratio batched / one-at-a-time (requests served in equal time, all rounds): "
        f"**{res['throughput_ratio']}x**",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
