"""`ponder serve`: an OpenAI-compatible reasoning server (see docs/serve.md).

ponder serve                                   # the tiny reasoner on http://127.0.0.1:8000/v1
ponder serve --model path/to/model --backend vllm --port 9000 --api-key secret
"""

from __future__ import annotations

import argparse
import logging

from ponder.gen.options import add_backend_args
from ponder.search.effort import EFFORT_LEVELS
from ponder.serve.schema import Limits

LIMIT_FLAGS = ("max_body_bytes", "max_messages", "max_prompts", "max_n", "max_tokens", "max_concurrent", "max_queue")


def _parser() -> argparse.ArgumentParser:
    d = Limits()
    ap = argparse.ArgumentParser(
        prog="ponder serve", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="tiny", help="model name or folder (default: the tiny reasoner)")
    ap.add_argument("--served-name", default=None, help="model id in the API (default: --model)")
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--api-key", default=None, help="require Authorization: Bearer KEY")
    ap.add_argument("--default-effort", choices=list(EFFORT_LEVELS), default="low", help="when a request names none")
    ap.add_argument(
        "--batch-wait-ms", type=float, default=50.0, help="longest the batcher waits for running requests' calls"
    )
    ap.add_argument("--max-batch-prompts", type=int, default=256, help="prompts per merged call (1: no merging)")
    for name in LIMIT_FLAGS:
        ap.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name))
    ap.add_argument("--log-level", default="info")
    add_backend_args(ap)
    return ap


def main(argv: list[str]) -> int:
    import uvicorn

    from ponder.gen import load_generator
    from ponder.gen.options import backend_kwargs
    from ponder.serve.app import build_app
    from ponder.serve.engine import ServeEngine

    args = _parser().parse_args(argv)
    limits = Limits(**{k: getattr(args, k) for k in LIMIT_FLAGS})
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    gen = load_generator(args.model, **backend_kwargs(args))
    engine = ServeEngine(
        gen,
        args.served_name or args.model,
        default_effort=args.default_effort,
        wait_ms=args.batch_wait_ms,
        max_prompts=args.max_batch_prompts,
    )
    app = build_app(engine, limits, api_key=args.api_key)
    print(f"ponder serve: {engine.model_id} ({gen.name}) on http://{args.host}:{args.port}/v1")
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, timeout_graceful_shutdown=5)
    finally:
        engine.close()
    return 0
