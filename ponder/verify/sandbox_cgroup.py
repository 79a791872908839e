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
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
_LOCK = threading.Lock()
_MADE: list[Path] = []
_SET: dict[tuple[Path, ...], tuple[int, int]] = {}  # limits last written per slot cgroup
log = logging.getLogger(__name__)


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


def _set_limits(kind: str, dirs: tuple[Path, ...], memory: int, max_processes: int) -> None:
    if kind == "v2":
        _write(dirs[0] / "memory.max", str(memory))
        for fname, value in (("memory.swap.max", "0"), ("pids.max", str(max_processes))):
            if (dirs[0] / fname).is_file():
                _write(dirs[0] / fname, value)
        return
    files = [dirs[0] / "memory.limit_in_bytes"]
    if (dirs[0] / "memory.memsw.limit_in_bytes").is_file():  # memory+swap must stay >= memory
        files.append(dirs[0] / "memory.memsw.limit_in_bytes")
    current = int(files[0].read_text())
    for path in files if memory <= current else reversed(files):
        _write(path, str(memory))
    if len(dirs) > 1:
        _write(dirs[1] / "pids.max", str(max_processes))


def slot_cgroup(slot: int, memory_mb: int, max_processes: int) -> Cgroup | None:
    """The cgroup for a parallel slot, limits set; None where cgroups are unavailable (or
    refuse the limits: then the launcher's polling cap applies, and a warning is logged)."""
    found = _bases()
    if found is None:
        return None
    kind, bases = found
    name = f"ponder-sbx-{os.getpid()}-{slot}"
    dirs = tuple(b / name for b in bases)
    with _LOCK:
        try:
            for d in dirs:
                if not d.exists():
                    d.mkdir()
                    _MADE.append(d)
            if _SET.get(dirs) != (memory_mb, max_processes):
                _set_limits(kind, dirs, memory_mb << 20, max_processes)
                _SET[dirs] = (memory_mb, max_processes)
        except OSError as e:
            log.warning("could not set up the sandbox cgroup %s (%s); using the polling memory cap", dirs[0], e)
            _SET.pop(dirs, None)
            return None
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


def remove_stale(alive) -> int:
    """Remove empty slot cgroups left by verifier processes that no longer run (`alive(pid)`)."""
    found, removed = _bases(), 0
    for base in found[1] if found else ():
        for d in base.glob("ponder-sbx-*-*"):
            pid = d.name.split("-")[2]
            if pid.isdigit() and not alive(int(pid)):
                with contextlib.suppress(OSError):
                    d.rmdir()
                    removed += 1
    return removed


@atexit.register
def _remove_all() -> None:
    for d in reversed(_MADE):
        with contextlib.suppress(OSError):
            d.rmdir()
