"""Generators: the only code that talks to an inference engine.

`load_generator("tiny")` is the built-in tiny reasoner on the hf backend; a folder or hub id is
any transformers causal LM; `backend="vllm"` (or a "vllm:" prefix, e.g. "vllm:tiny") runs the same
model on vLLM's offline engine; "http://host:port/v1" (or "openai:MODEL@http://...") is an
OpenAI-compatible server; tests use gen.fake.FakeGenerator directly. Backend options are checked
against the backend (gen/options.py) before anything loads.
"""

from __future__ import annotations

from ponder.types import Generator, PonderError


def load_generator(
    name: str | None = None, device: str | None = None, backend: str | None = None, **kwargs
) -> Generator:
    if name and (name.startswith(("http://", "https://")) or name.startswith("openai:")):
        if backend is not None:
            raise PonderError(f"{name} is an OpenAI-compatible server; --backend applies to local models only")
        from ponder.gen.openai import OpenAIGenerator

        return OpenAIGenerator.from_spec(name, **kwargs)
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
