"""A process pool with a hard per-item timeout, for checks that can hang or crash (math-verify).

Workers are plain subprocesses (`python -m ponder.verify.pool_worker module:function`) speaking
JSON lines over pipes, so they need no `if __name__ == "__main__"` guard in the caller's script
and each runs its checks in its own main thread (math-verify's `signal.alarm` timeouts work
there). The parent sends one item per idle worker and waits with `select`; an item that passes
its deadline gets its worker killed and replaced, and is reported as a timeout. A worker that
dies (memory limit, segfault) is replaced and its item reported as an error. The pool is
reusable across calls; `close()` (also run at exit) kills the workers.

Left out: sharing one pool between processes, and retrying an item that timed out.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ponder.types import PonderError

log = logging.getLogger(__name__)
_REPO_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass
class PoolResult:
    status: str  # ok | timeout | error
    value: Any = None
    error: str = ""


class _Worker:
    def __init__(self, handler: str, memory_mb: int, warmup: Any = None):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_REPO_ROOT, env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ponder.verify.pool_worker", handler, str(memory_mb)]
            + ([] if warmup is None else [json.dumps(warmup)]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        self.fd = self.proc.stdout.fileno()
        self.buf = b""
        self.ready = False
        self.item: int | None = None
        self.deadline = 0.0

    def send(self, idx: int, item: Any, timeout: float) -> None:
        self.item, self.deadline = idx, time.monotonic() + timeout
        self.proc.stdin.write((json.dumps(item) + "\n").encode())
        self.proc.stdin.flush()

    def read_lines(self) -> list[dict] | None:
        """Complete messages available now; None when the worker has exited."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            return None
        self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        return [json.loads(line) for line in lines if line]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            f.close()


class WorkerPool:
    """`handler` is "module:function" taking one JSON item and returning a JSON value; `warmup`
    is an item each new worker runs before it counts as ready (to pay lazy imports up front)."""

    def __init__(self, handler: str, workers: int = 2, memory_mb: int = 4096, warmup: Any = None):
        self.handler, self.n_workers, self.memory_mb, self.warmup = handler, workers, memory_mb, warmup
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._startup_failures = 0
        atexit.register(self.close)

    def _spawn(self) -> _Worker:
        return _Worker(self.handler, self.memory_mb, self.warmup)

    def map(self, items: list[Any], timeout: float) -> list[PoolResult]:
        """Results in input order; each item gets at most `timeout` seconds of a ready worker."""
        if not items:
            return []
        with self._lock:
            while len(self._workers) < self.n_workers:
                self._workers.append(self._spawn())
            return self._run(items, timeout)

    def _run(self, items: list[Any], timeout: float) -> list[PoolResult]:
        out: list[PoolResult | None] = [None] * len(items)
        todo = deque(range(len(items)))
        while todo or any(w.item is not None for w in self._workers):
            for w in self._workers:
                if w.ready and w.item is None and todo:
                    idx = todo.popleft()
                    w.send(idx, items[idx], timeout)
            busy = [w for w in self._workers if w.item is not None]
            wait = max(0.0, min((w.deadline for w in busy), default=time.monotonic() + 1) - time.monotonic())
            readable, _, _ = select.select([w.fd for w in self._workers], [], [], min(wait, 1.0))
            for w in [w for w in self._workers if w.fd in readable]:
                self._collect(w, out)
            self._expire(out)
        return out  # type: ignore[return-value]

    def _collect(self, w: _Worker, out: list) -> None:
        messages = w.read_lines()
        if messages is None:  # the worker died: replace it, fail its item
            if not w.ready:
                self._startup_failures += 1
                if self._startup_failures > 3:
                    raise PonderError(
                        f"verifier workers for {self.handler} die on start-up; try: python -m ponder.verify.pool_worker {self.handler} {self.memory_mb}"
                    )
            if w.item is not None:
                out[w.item] = PoolResult("error", error="check crashed its worker (memory limit or a crash)")
            self._replace(w)
            return
        for msg in messages:
            if msg.get("ready"):
                w.ready = True
            elif w.item is not None:
                out[w.item] = (
                    PoolResult("ok", value=msg["ok"]) if "ok" in msg else PoolResult("error", error=msg["error"])
                )
                w.item = None

    def _expire(self, out: list) -> None:
        now = time.monotonic()
        for w in list(self._workers):
            if w.item is not None and now > w.deadline:
                out[w.item] = PoolResult("timeout", error="check exceeded its time limit")
                self._replace(w)

    def _replace(self, w: _Worker) -> None:
        w.kill()
        self._workers[self._workers.index(w)] = self._spawn()

    def close(self) -> None:
        with self._lock:
            for w in self._workers:
                w.kill()
            self._workers = []
