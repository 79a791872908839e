"""The `ray` executor: every item of a `map` is one Ray task; results come back to the driver.

Joins the cluster at `address` (else RAY_ADDRESS) or, with neither, starts a local Ray with
`num_cpus` CPU slots and no dashboard, which `close()` stops again. A Ray that is already
initialised in this process (a test's cluster) is used as it is and left running.
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 is set (unless already set) before Ray is imported: with it,
every address of a Ray started here is 127.0.0.1 (measured with Ray 2.60, issue 13).

Each task takes one CPU slot and is retried by Ray (up to `max_retries`) when its worker process
or node dies; an exception raised by the item's own code is not retried and reaches the driver
as itself. At most `in_flight` items are out at once, so a large file is not shipped whole.
Worker processes keep a cache per run (the generator a task built) and drop older runs' caches.
Left out: GPU placement for plain items (generator actors take num_gpus; gen/ray_actor.py).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from ponder.types import PonderError

log = logging.getLogger(__name__)
_WORKER_CACHE: dict[str, dict] = {}  # run id -> cache, in each Ray worker process


def import_ray() -> Any:
    """`ray`, with the loopback setting in place first; a one-line PonderError without it."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise PonderError("--executor ray needs Ray: pip install 'ponder[ray]' (or pip install ray)") from None
    return ray


def _check_answers(address: str, timeout: float = 3.0) -> None:
    """Fail in seconds, not minutes, when nothing listens at host:port."""
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise PonderError(f"Ray address {address!r} is not host:port (or auto)")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise PonderError(
            f"no Ray cluster answers at {address} ({e.strerror or e}); start one with `ray start --head`"
        ) from None


def _run_item(run_id: str, fn: Callable[[Any, dict], Any], item: Any) -> tuple[str, Any]:
    """In a Ray worker: fn(item, this run's cache); returns (node id, result)."""
    import ray

    for old in [k for k in _WORKER_CACHE if k != run_id]:
        del _WORKER_CACHE[old]
    cache = _WORKER_CACHE.setdefault(run_id, {})
    return ray.get_runtime_context().get_node_id(), fn(item, cache)


class RayExecutor:
    """Items as Ray tasks (one CPU slot each), results and progress in the driver."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None, max_retries: int = 3) -> None:
        self.ray = ray = import_ray()
        self.run_id = uuid.uuid4().hex
        self.max_retries = max_retries
        self.placements: list[tuple[int, str]] = []  # (item index, node id) of the last map
        self._started = False
        if ray.is_initialized():
            return
        address = address or os.environ.get("RAY_ADDRESS") or None
        if address and address != "auto":
            _check_answers(address)
        kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
        if not address:
            kwargs["num_cpus"] = num_cpus or os.cpu_count() or 1
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise PonderError(
                f"could not {'join Ray at ' + address if address else 'start Ray'}: {str(e).splitlines()[0]}"
            ) from None
        self._started = True
        log.info("Ray %s: %s CPU slots", "joined at " + address if address else "started", self.cpus())

    def cpus(self) -> int:
        return int(self.ray.cluster_resources().get("CPU", 1))

    def map(
        self,
        fn: Callable[[Any, dict], Any],
        items: Sequence[Any],
        *,
        on_result: Callable[[int, Any], None] | None = None,
        ordered: bool = False,
        in_flight: int | None = None,
    ) -> list[Any]:
        """fn(item, cache) as one Ray task per item; results in item order."""
        ray = self.ray
        remote = ray.remote(_run_item).options(num_cpus=1, max_retries=self.max_retries, retry_exceptions=False)
        fn_ref = ray.put(fn)
        limit = in_flight or max(4, 2 * self.cpus())
        results: dict[int, Any] = {}
        pending: dict[Any, int] = {}
        next_item, next_report = 0, 0
        self.placements = []
        while next_item < len(items) or pending:
            while next_item < len(items) and len(pending) < limit:
                pending[remote.remote(self.run_id, fn_ref, items[next_item])] = next_item
                next_item += 1
            ready, _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(ready[0])
            node, results[index] = self._get(ready[0])
            self.placements.append((index, node))
            if on_result and not ordered:
                on_result(index, results[index])
            while on_result and ordered and next_report in results:
                on_result(next_report, results[next_report])
                next_report += 1
        return [results[i] for i in range(len(items))]

    def _get(self, ref: Any) -> Any:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as e:  # the item's own exception, as itself
            cause = getattr(e, "cause", None)
            if isinstance(cause, BaseException):
                raise cause from None
            raise

    def close(self) -> None:
        if self._started:
            self.ray.shutdown()
            self._started = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
