"""A memory (and process) cap over a sandboxed program's whole process tree, with cgroups.

One cgroup per parallel slot, made under the verifier's own cgroup on first use, reused for
every run in that slot, emptied after each run and removed at exit. Tried in order:
- cgroup v2 (`memory.max`, `memory.swap.max = 0`, `pids.max`), where the verifier's cgroup is
  writable and already has the memory controller enabled for its children (root, or a
  delegated systemd user slice);
- cgroup v1 (`memory.limit_in_bytes`, `memory.memsw.limit_in_bytes` when swap is accounted,
  and the `pids` hierarchy when present), where writable (root on a hybrid-hierarchy machine);
- none: then only the per-process limits hold (address space × process count; documented in
  docs/verify.md), and the run reports `memory_cgroup: null`.

Left out: enabling controllers ourselves (moving the verifier into a leaf cgroup), CPU weights.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
_LOCK = threading.Lock()
_MADE: list[Path] = []


@dataclass(frozen=True)
class Cgroup:
    kind: str  # "v1" or "v2"
    dirs: tuple[Path, ...]  # v2: one; v1: memory (+ pids)

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]


def _own_paths() -> dict[str, str]:
    """controller (or "" for v2) -> this process's cgroup path."""
    out = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            out[c] = path
    return out


@functools.cache
def _bases() -> tuple[str, tuple[Path, ...]] | None:
    """Where slot cgroups go, or None when no memory cgroup can be made here."""
    try:
        own = _own_paths()
    except OSError:
        return None
    for v2_root in (ROOT, ROOT / "unified"):
        base = v2_root / own.get("", "/").lstrip("/")
        control = base / "cgroup.subtree_control"
        if control.is_file() and "memory" in control.read_text().split() and os.access(base, os.W_OK):
            return "v2", (base,)
    if "memory" in own:
        mem = ROOT / "memory" / own["memory"].lstrip("/")
        if (mem / "memory.limit_in_bytes").is_file() and os.access(mem, os.W_OK):
            pids = ROOT / "pids" / own.get("pids", "/").lstrip("/")
            return "v1", (mem, pids) if (pids / "pids.max").is_file() and os.access(pids, os.W_OK) else (mem,)
    return None


def available() -> str | None:
    """ "v2", "v1" or None."""
    found = _bases()
    return found[0] if found else None


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def slot_cgroup(slot: int, memory_mb: int, max_processes: int) -> Cgroup | None:
    """The cgroup for a parallel slot, limits set; None where cgroups are unavailable."""
    found = _bases()
    if found is None:
        return None
    kind, bases = found
    name = f"ponder-sbx-{os.getpid()}-{slot}"
    dirs = tuple(b / name for b in bases)
    limit = str(memory_mb << 20)
    with _LOCK:
        for d in dirs:
            if not d.exists():
                d.mkdir()
                _MADE.append(d)
        if kind == "v2":
            _write(dirs[0] / "memory.max", limit)
            for fname, value in (("memory.swap.max", "0"), ("pids.max", str(max_processes))):
                if (dirs[0] / fname).is_file():
                    _write(dirs[0] / fname, value)
        else:
            _write(dirs[0] / "memory.limit_in_bytes", limit)
            if (dirs[0] / "memory.memsw.limit_in_bytes").is_file():
                _write(dirs[0] / "memory.memsw.limit_in_bytes", limit)
            if len(dirs) > 1:
                _write(dirs[1] / "pids.max", str(max_processes))
    return Cgroup(kind, dirs)


def oom_kills(group: Cgroup) -> int:
    """How many processes the memory cap has killed in this cgroup so far."""
    fname = "memory.events" if group.kind == "v2" else "memory.oom_control"
    try:
        for line in (group.dirs[0] / fname).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
    except OSError:
        pass
    return 0


def empty(group: Cgroup, seconds: float = 2.0) -> None:
    """Kill whatever is still in the cgroup (normally nothing: the launcher ends its tree)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pids = [int(p) for d in group.dirs for p in (d / "cgroup.procs").read_text().split()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


@atexit.register
def _remove_all() -> None:
    for d in reversed(_MADE):
        with contextlib.suppress(OSError):
            d.rmdir()
