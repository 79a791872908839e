"""Generators: the only code that talks to an inference engine.

`load_generator("tiny")` is the built-in tiny reasoner on the hf backend; a folder or hub id is
any transformers causal LM; "http://host:port/v1" (or "openai:MODEL@http://...") is an
OpenAI-compatible server; tests use gen.fake.FakeGenerator directly.
"""

from __future__ import annotations

from ponder.types import Generator


def load_generator(name: str | None = None, device: str | None = None, **kwargs) -> Generator:
    if name and (name.startswith(("http://", "https://")) or name.startswith("openai:")):
        from ponder.gen.openai import OpenAIGenerator

        return OpenAIGenerator.from_spec(name, **kwargs)
    from ponder.gen.hf import HFGenerator
    from ponder.models import BUILTIN, DEFAULT_MODEL, resolve_model

    name = name or DEFAULT_MODEL
    label = name if name in BUILTIN else None  # "hf:tiny" rather than the path of its weights folder
    return HFGenerator(resolve_model(name), device=device, name=label, **kwargs)
