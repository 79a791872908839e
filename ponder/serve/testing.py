"""Run a ponder server in a background thread on a free loopback port, for tests and benchmarks.

    with serve_in_thread(engine) as base_url:      # "http://127.0.0.1:PORT/v1"
        ...

Startup waits at most `timeout` seconds; on exit the server is asked to stop, and the thread is
joined with a bound. Loopback only: nothing here binds another address.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ponder.serve.engine import ServeEngine
from ponder.serve.schema import Limits
from ponder.types import PonderError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_in_thread(
    engine: ServeEngine, limits: Limits | None = None, api_key: str | None = None, timeout: float = 30.0
) -> Iterator[str]:
    import uvicorn

    from ponder.serve.app import build_app

    port = free_port()
    app = build_app(engine, limits, api_key=api_key)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="ponder-serve-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise PonderError(f"test server did not start on 127.0.0.1:{port} within {timeout:.0f} s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
