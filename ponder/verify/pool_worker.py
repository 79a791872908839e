"""The worker side of verify/worker_pool.py: `python -m ponder.verify.pool_worker module:function MB [WARMUP]`.

Imports the handler once and calls it on the optional JSON warm-up item (so lazy imports such as
sympy's happen now), then announces `{"ready": true}`: the caller's per-item clock starts only
once the worker can work, caps its own address space, then answers one JSON line
per request line with `{"ok": value}` or `{"error": "..."}`. The protocol uses a duplicate of the
original stdout, so anything a library prints goes to stderr instead of corrupting the stream.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys


def main() -> int:
    handler, memory_mb = sys.argv[1], int(sys.argv[2])
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    module, _, name = handler.partition(":")
    fn = getattr(importlib.import_module(module), name)
    if len(sys.argv) > 3:
        fn(json.loads(sys.argv[3]))
    out.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        try:
            reply = {"ok": fn(json.loads(line))}
        except Exception as e:  # noqa: BLE001 - any failure of one item is reported, not fatal
            reply = {"error": f"{type(e).__name__}: {str(e)[:200]}"}
        out.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
