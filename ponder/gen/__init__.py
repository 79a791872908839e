"""Generators: the only code that talks to an inference engine.

`load_generator("tiny")` is the built-in tiny reasoner on the hf backend; a folder or hub id is
any transformers causal LM; `backend="vllm"` (or a "vllm:" prefix, e.g. "vllm:tiny") runs the same
model on vLLM's offline engine; "http://host:port/v1" (or "openai:MODEL@http://...") is an
OpenAI-compatible server's completions endpoint, "chat+http://..." its chat endpoint; tests use
gen.fake.FakeGenerator directly. Backend options are checked against the backend (gen/options.py)
before anything loads. `model_params` ("7B", "500M", an int) is the size of a served model, for
FLOP counts; a local model's parameters are counted.
"""

from __future__ import annotations

import re

from ponder.types import Generator, PonderError

_SUFFIX = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}


def parse_param_count(value: str | int | None) -> int | None:
    """ "7B" -> 7_000_000_000, "1.5B", "500M", "123" -> 123; None stays None (unknown)."""
    if value is None or isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMBT]?)\s*", str(value), flags=re.IGNORECASE)
    if not m:
        raise PonderError(f"bad parameter count {value!r}: use e.g. 7B, 1.5B, 500M or a plain number")
    return round(float(m.group(1)) * _SUFFIX[m.group(2).upper()])


def load_generator(
    name: str | None = None,
    device: str | None = None,
    backend: str | None = None,
    model_params: str | int | None = None,
    **kwargs,
) -> Generator:
    if name and name.removeprefix("chat+").startswith(("http://", "https://", "openai:")):
        if backend is not None:
            raise PonderError(f"{name} is an OpenAI-compatible server; --backend applies to local models only")
        from ponder.gen.openai import OpenAIGenerator

        return OpenAIGenerator.from_spec(name, n_params=parse_param_count(model_params), **kwargs)
    from ponder.gen.options import check_options, split_backend
    from ponder.models import BUILTIN, DEFAULT_MODEL, resolve_model

    backend, name = split_backend(name, backend)
    if device is not None:
        kwargs["device"] = device
    check_options(backend, kwargs)
    name = name or DEFAULT_MODEL
    label = name if name in BUILTIN else None  # "hf:tiny" rather than the path of its weights folder
    if backend == "vllm":
        from ponder.gen.vllm import VLLMGenerator

        return VLLMGenerator(resolve_model(name), name=label, **kwargs)
    from ponder.gen.hf import HFGenerator

    return HFGenerator(resolve_model(name), name=label, **kwargs)
