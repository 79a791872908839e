"""`ponder serve`: an OpenAI-compatible reasoning server (see docs/serve.md).

ponder serve                                   # the tiny reasoner on http://127.0.0.1:8000/v1
ponder serve --model path/to/model --backend vllm --port 9000 --api-key secret
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from ponder.serve.schema import Limits

LIMIT_FLAGS = ("max_body_bytes", "max_messages", "max_prompts", "max_n", "max_tokens", "max_concurrent", "max_queue")
_LIMITS = Limits()


@dataclass
class ServeConfig:
    """What `ponder serve` runs, and the limits it enforces.

    model: model name or folder (default: the tiny reasoner)
    served_name: model id in the API (null: the model's name)
    host: address to bind (default loopback only)
    port: port to listen on
    api_key: require Authorization: Bearer KEY (null: no auth)
    default_effort: reasoning_effort for a request that names none
    batch_wait_ms: longest the batcher waits for running requests' calls, in milliseconds
    max_batch_prompts: prompts per merged generator call (1: no merging)
    max_body_bytes: largest request body (413 above it)
    max_messages: most messages in a chat request (400 above it)
    max_prompts: most prompts in a completions request (400 above it)
    max_n: largest n (400 above it)
    max_tokens: largest max_tokens (400 above it)
    max_concurrent: requests running at once (more wait for a slot)
    max_queue: requests waiting at once (429 above it)
    log_level: uvicorn and ponder log level (debug, info, warning, error)
    backend: hf | vllm for the model (a "vllm:" model prefix does the same)
    gen_options: backend options (gen/options.py), e.g. --gen-options.dtype=bfloat16
    """

    model: str = "tiny"
    served_name: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    default_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] = "low"
    batch_wait_ms: float = 50.0
    max_batch_prompts: int = 256
    max_body_bytes: int = _LIMITS.max_body_bytes
    max_messages: int = _LIMITS.max_messages
    max_prompts: int = _LIMITS.max_prompts
    max_n: int = _LIMITS.max_n
    max_tokens: int = _LIMITS.max_tokens
    max_concurrent: int = _LIMITS.max_concurrent
    max_queue: int = _LIMITS.max_queue
    log_level: str = "info"
    backend: str | None = None
    gen_options: dict[str, Any] = field(default_factory=dict)


def parse_serve(argv: list[str]) -> ServeConfig:
    from ponder.cliargs import parse_cli

    cfg, _ = parse_cli(ServeConfig, argv, prog="ponder serve [--key=value ...]", doc=__doc__ or "")
    return cfg


def main(argv: list[str]) -> int:
    import uvicorn

    from ponder.gen import load_generator
    from ponder.serve.app import build_app
    from ponder.serve.engine import ServeEngine

    cfg = parse_serve(argv)
    limits = Limits(**{k: getattr(cfg, k) for k in LIMIT_FLAGS})
    logging.basicConfig(level=cfg.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    gen = load_generator(cfg.model, backend=cfg.backend, **cfg.gen_options)
    engine = ServeEngine(
        gen,
        cfg.served_name or cfg.model,
        default_effort=cfg.default_effort,
        wait_ms=cfg.batch_wait_ms,
        max_prompts=cfg.max_batch_prompts,
    )
    app = build_app(engine, limits, api_key=cfg.api_key)
    print(f"ponder serve: {engine.model_id} ({gen.name}) on http://{cfg.host}:{cfg.port}/v1")
    try:
        uvicorn.run(app, host=cfg.host, port=cfg.port, log_level=cfg.log_level, timeout_graceful_shutdown=5)
    finally:
        engine.close()
    return 0
