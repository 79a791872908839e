"""Beam search on vLLM with prefix caching on and off, side by side in one run, on the tiny reasoner.

Two engines (caching on, caching off) are built once; each timed run starts from an empty prefix
cache (`reset_prefix_cache`), and the two alternate (on/off, then off/on, ...) so load drifts on a
shared machine hit both alike. Reported per setting: median wall seconds and median CPU seconds
of this process (less sensitive to other processes on a shared machine) over `--repeats` runs,
the speed-ups off/on, prompt tokens sent, prompt tokens vLLM served from its cache, accuracy.

Settings (`--shots`): 0 is the tiny reasoner's own prompt (~24 tokens for a Countdown question:
less than one 32-token KV block, so the cache can only reuse the trace a step re-sends). k > 0
puts k solved Countdown examples (a few-shot block, the same for every problem, ~13 tokens each)
before every question, the common case where a long shared prefix dominates the prompt. The
problems (and so the scorer and the check of answers) are unchanged; only the rendered prompt
grows. `--profile` adds one cProfile'd run per engine, summed into where the time goes.

    flock /tmp/ponder-bench.lock env PYTHONPATH=. python benchmarks/vllm_prefix.py [--shots 0 6]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import time
from pathlib import Path

for _key, _value in {"VLLM_HOST_IP": "127.0.0.1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}.items():
    os.environ.setdefault(_key, _value)

import torch  # noqa: E402

from benchmarks.vllm_engine_work import delta, engine_work  # noqa: E402
from ponder.io import write_json  # noqa: E402

OUT = Path(__file__).parent / "results" / "vllm_prefix.json"
PARTS = {  # where the time goes: (file suffix, function) -> part; cumulative times, engine-internal
    "model forward": [("gpu_model_runner.py", "_model_forward")],
    "sampling": [("gpu_model_runner.py", "_sample")],
    "scheduler": [("scheduler.py", "schedule"), ("scheduler.py", "update_from_output")],
    "output processing (detokenize, logprobs)": [("output_processor.py", "process_outputs")],
    "prefix-cache lookups": [("kv_cache_manager.py", "get_computed_blocks")],
    "KV block allocation (caches full blocks)": [("kv_cache_manager.py", "allocate_slots")],
    "block hashing": [("kv_cache_utils.py", "request_block_hasher")],
    "adding requests": [("offline.py", "_add_completion_requests")],
    "engine total (LLM.generate)": [("entrypoints/llm.py", "generate")],
    "search total": [("engine.py", "run_search")],
}


class FewShot:
    """A generator whose prompts start with a fixed block of solved examples (benchmark only)."""

    def __init__(self, gen, shots: str):
        self.gen, self.shots = gen, shots
        self.name, self.n_params = gen.name, gen.n_params

    def render(self, question: str) -> str:
        return self.gen.render(self.shots + question)

    def generate(self, prompts, params, **kw):
        return self.gen.generate(prompts, params, **kw)


def shots_block(k: int) -> str:
    from ponder.tasks import make_problems

    return "".join(f"{p.question}: {p.answer}\n" for p in make_problems("countdown", k, seed=99))


def one_run(gen, problems, args) -> dict:
    from ponder.search import run_search
    from ponder.verify import verify

    gen.gen.llm.reset_prefix_cache()
    stats, work = gen.gen.prefix_stats, engine_work(gen.gen)
    before, work_before, load = dict(stats), dict(work), os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    results = run_search("beam", problems, gen, budget=args.budget, scorer="check", width=args.width)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "seconds": round(dt, 2),
        "cpu_seconds": round(cpu, 2),
        "load1_before": round(load, 2),
        "prompt_tokens_sent": stats["prompt_tokens"] - before["prompt_tokens"],
        "prompt_tokens_cached": stats["cached_tokens"] - before["cached_tokens"],
        "tail_tokens": stats["tail_tokens"] - before["tail_tokens"],  # each sample's uncachable last partial block
        "generated_tokens": sum(r.cost.generated_tokens for r in results),
        "engine": delta(work, work_before),  # steps, model tokens (prefill + decode), seconds per phase
        "accuracy": sum(s.correct for s in verify(problems, [r.response for r in results])) / len(problems),
    }


def profile_run(gen, problems, args) -> dict:
    prof = cProfile.Profile()
    prof.enable()
    one_run(gen, problems, args)
    prof.disable()
    table = pstats.Stats(prof).stats  # (file, line, function) -> (cc, nc, tottime, cumtime, callers)
    out = {}
    for part, keys in PARTS.items():
        out[part] = round(
            sum(v[3] for (f, _, fn), v in table.items() if any(f.endswith(s) and fn == n for s, n in keys)), 2
        )
    return out


def setting(engines: dict, problems, k: int, args) -> dict:
    shots = shots_block(k) if k else ""
    gens = {name: FewShot(g, shots) for name, g in engines.items()}
    tokens = len(gens["on"].gen._encode([gens["on"].render(problems[0].question)])[0])
    for g in gens.values():
        one_run(g, problems[:4], args)  # warm-up
    runs: dict[str, list[dict]] = {"on": [], "off": []}
    for r in range(args.repeats):
        for name in ("on", "off") if r % 2 == 0 else ("off", "on"):
            runs[name].append(one_run(gens[name], problems, args))
            print(f"shots={k} caching {name}: {runs[name][-1]}", flush=True)
    out = {"shots": k, "prompt_tokens_first_problem": tokens, "runs": runs}
    for name, rs in runs.items():
        out[f"seconds_median_{name}"] = statistics.median(x["seconds"] for x in rs)
        out[f"cpu_seconds_median_{name}"] = statistics.median(x["cpu_seconds"] for x in rs)
    out["speedup"] = round(out["seconds_median_off"] / out["seconds_median_on"], 2)
    out["speedup_cpu"] = round(out["cpu_seconds_median_off"] / out["cpu_seconds_median_on"], 2)
    on = runs["on"][0]
    out["prompt_tokens_cached_fraction"] = round(on["prompt_tokens_cached"] / max(1, on["prompt_tokens_sent"]), 3)
    if args.profile:
        out["profile_seconds"] = {name: profile_run(g, problems, args) for name, g in gens.items()}
    print(
        f"shots={k}: on {out['seconds_median_on']} s, off {out['seconds_median_off']} s, x{out['speedup']} "
        f"(CPU time x{out['speedup_cpu']})"
    )
    return out


def build_engines(opts: dict, model: str = "tiny") -> tuple[dict, dict]:
    """Two vLLM generators with the same options, prefix caching on and off, and the seconds each took to start."""
    from ponder.gen import load_generator

    engines, start_seconds = {}, {}
    for name in ("on", "off"):
        t0 = time.perf_counter()
        engines[name] = load_generator(model, backend="vllm", prefix_caching=name == "on", **opts)
        start_seconds[name] = round(time.perf_counter() - t0, 1)
    return engines, start_seconds


def parse_option(text: str) -> tuple[str, object]:
    """ "block_size=64" -> ("block_size", 64); numbers and true/false are parsed, the rest is text."""
    key, sep, value = text.partition("=")
    if not sep:
        raise SystemExit(f"--option takes KEY=VALUE, got {text!r}")
    low = value.lower()
    if low in ("true", "false"):
        return key, low == "true"
    try:
        return key, int(value)
    except ValueError:
        return key, value


def beam_meta(args, load_before: tuple, **extra) -> dict:
    """The run's conditions for a beam benchmark on Countdown (shared with vllm_options.py)."""
    from benchmarks.vllm_vs_hf import run_meta

    return run_meta(
        args.threads,
        load_before,
        task="countdown",
        n_problems=args.n,
        strategy=f"beam budget={args.budget} width={args.width} scorer=check",
        model_spec=args.model,
        **extra,
    )


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="Countdown problems")
    ap.add_argument("--budget", type=int, default=8)
    ap.add_argument("--width", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--shots", type=int, nargs="+", default=[0, 6], help="few-shot examples before each question")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", default="tiny", help="built-in name or weights folder (e.g. tiny-v2)")
    ap.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="vLLM generator option for both engines"
    )
    ap.add_argument(
        "--text-stops", action="store_true", help="vLLM checks stop strings on text (the path before stop ids)"
    )
    ap.add_argument("--profile", action="store_true", help="add one cProfile'd run per engine and setting")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from ponder.tasks import make_problems

    load_before = os.getloadavg()
    opts = dict(parse_option(o) for o in args.option)
    engines, start_seconds = build_engines(opts, args.model)
    if args.text_stops:
        for g in engines.values():
            g.stop_ids = lambda stops: None
    problems = make_problems("countdown", args.n, seed=2024)
    result = {"settings": [setting(engines, problems, k, args) for k in args.shots]}
    result["meta"] = beam_meta(
        args,
        load_before,
        engine_options=opts,
        engine_start_seconds=start_seconds,
        stop_check="text (vLLM detokenizes)" if args.text_stops else "stop token ids, detokenizing off",
        load1_note="load1_before per run: the 1-minute load average when that run started",
    )
    for g in engines.values():
        g.close()
    write_json(args.out, result)
    print(result["meta"])
    return result


if __name__ == "__main__":
    main()
