"""Which backend a model runs on, and the options each backend accepts.

A model spec may carry its backend as a prefix ("vllm:tiny", "hf:runs/ckpt"); `--backend` on the
command line does the same for every model the command loads. Options are checked against the
backend before anything loads, so a vLLM-only option on the hf backend (or the reverse) is a
one-line error instead of being silently ignored. `add_backend_args` puts the same flags on every
command that takes `--model`; `backend_kwargs` turns the parsed flags back into keyword arguments
for `load_generator`.
"""

from __future__ import annotations

import argparse

from ponder.types import PonderError

BACKENDS = ("hf", "vllm")
PREFIX = "backend_opt_"  # argparse dest prefix of the option flags
OPTIONS: dict[str, set[str]] = {
    "hf": {"device", "dtype"},
    "vllm": {
        "dtype",
        "max_model_len",
        "gpu_memory_utilization",
        "kv_cache_gb",
        "prefix_caching",
        "enforce_eager",
        "block_size",
        "max_num_seqs",
        "max_num_batched_tokens",
    },
}
FLAGS = {  # option -> (flag, type, help); prefix_caching is the --no-prefix-caching switch
    "device": ("--device", str, "hf: cpu, cuda, cuda:1, ... (default: cuda when available)"),
    "dtype": ("--dtype", str, "float32, bfloat16 or float16 (default: bfloat16 on CUDA, float32 on CPU)"),
    "max_model_len": ("--max-model-len", int, "vllm: longest prompt + completion in tokens (default: the model's)"),
    "gpu_memory_utilization": ("--gpu-memory-utilization", float, "vllm: fraction of GPU memory to use"),
    "kv_cache_gb": ("--kv-cache-gb", int, "vllm on CPU: GiB for the KV cache (default 1)"),
    "block_size": ("--block-size", int, "vllm: tokens per KV-cache block, the prefix cache's unit (CPU default 32)"),
}


def split_backend(spec: str | None, backend: str | None) -> tuple[str, str | None]:
    """("vllm:tiny", None) -> ("vllm", "tiny"); a prefix and a different `backend` disagree."""
    prefix, sep, rest = (spec or "").partition(":")
    if sep and prefix in BACKENDS:
        if backend is not None and backend != prefix:
            raise PonderError(f"model {spec!r} names the {prefix} backend but --backend is {backend}")
        return prefix, rest or None
    if backend is not None and backend not in BACKENDS:
        raise PonderError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    return backend or "hf", spec


def check_options(backend: str, kwargs: dict) -> None:
    """A clear error for an option the backend does not take, naming the backend that does."""
    for key in kwargs:
        if key in OPTIONS[backend]:
            continue
        owners = [b for b in BACKENDS if key in OPTIONS[b]]
        flag = f"--gen-options.{key}"  # how every ponder command takes backend options
        if owners:
            raise PonderError(f"{flag} is a {owners[0]} option, not a {backend} one; add --backend {owners[0]}")
        raise PonderError(f"the {backend} backend has no option {key!r}; it takes {sorted(OPTIONS[backend])}")


def add_backend_args(ap: argparse.ArgumentParser) -> None:
    """--backend and the backend options, as one group, on a command that loads a model."""
    g = ap.add_argument_group("generator backend")
    g.add_argument(
        "--backend", choices=BACKENDS, default=None, help="hf (default) or vllm (bash scripts/setup.sh --vllm)"
    )
    for key, (flag, typ, text) in FLAGS.items():
        g.add_argument(flag, dest=PREFIX + key, type=typ, default=None, help=text)
    g.add_argument("--no-prefix-caching", dest=PREFIX + "prefix_caching", action="store_false", default=None,
                   help="vllm: turn prefix caching off (on by default)")  # fmt: skip


def backend_kwargs(args: argparse.Namespace) -> dict:
    """The backend and the options given on the command line (left out when not given)."""
    out = {k[len(PREFIX) :]: v for k, v in vars(args).items() if k.startswith(PREFIX) and v is not None}
    return {"backend": getattr(args, "backend", None), **out}
