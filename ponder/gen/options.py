"""Which backend a model runs on, and the options each backend accepts.

A model spec may carry its backend as a prefix ("vllm:tiny", "hf:runs/ckpt"); `--backend` on the
command line does the same for every model the command loads. Options are checked against the
backend before anything loads, so a vLLM-only option on the hf backend (or the reverse) is a
one-line error instead of being silently ignored. Commands take them as `--backend` and
`--gen-options.KEY=V` (ponder/cliargs.py).
"""

from __future__ import annotations

from ponder.types import PonderError

BACKENDS = ("hf", "vllm")
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
