"""Run untrusted Python programs in a sandbox, many in parallel.

Each program runs through `sandbox_launch.py` (see there for the mechanics) in a new session,
with CPU-time, wall-clock, address-space, process/thread, file-size (= output) and open-file
limits, a scrubbed environment, an unprivileged uid of its own (one per parallel slot, so process
caps and the final sweep never touch another program), and — where the platform allows — no
network, a private /tmp and its own PID namespace. The result says which isolation held.
Outputs go to files in a fresh temporary directory that is deleted afterwards.

Left out: system-call filtering, a cap on total memory across a program's processes (cgroups),
read protection for world-readable files. docs/verify.md says what this does and does not stop.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ponder.types import PonderError

LAUNCHER = Path(__file__).with_name("sandbox_launch.py")
MAX_WORKERS = 64
_UID_BASE = 200_000 + (os.getpid() % 50_000) * MAX_WORKERS  # a uid range per verifier process
_SLOT_COUNTER = itertools.count()
_SLOT_LOCK = threading.Lock()
_FREE_SLOTS: list[int] = []


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 5
    wall_seconds: float = 10.0
    memory_mb: int = 512  # address space per process
    max_processes: int = 8  # processes + threads of the sandbox uid
    max_output_bytes: int = 1 << 20  # per file, stdout and stderr included
    tmpfs_mb: int = 32
    # Namespaces to try (each reported in SandboxResult.isolation); fewer only to test fallbacks.
    namespaces: tuple[str, ...] = ("network", "mount", "pid")

    def __post_init__(self) -> None:
        for name in ("cpu_seconds", "wall_seconds", "memory_mb", "max_processes", "max_output_bytes", "tmpfs_mb"):
            if getattr(self, name) <= 0:
                raise PonderError(f"sandbox limit {name} must be > 0, got {getattr(self, name)}")
        unknown = set(self.namespaces) - {"network", "mount", "pid"}
        if unknown:
            raise PonderError(f"unknown sandbox namespaces {sorted(unknown)}; known: network, mount, pid")


@dataclass
class SandboxResult:
    """exit_code is None when the program died of a signal; `isolation` says what held."""

    exit_code: int | None
    signal: int | None
    timed_out: bool
    stdout: str
    stderr: str
    output_truncated: bool
    wall_seconds: float
    cpu_seconds: float = 0.0
    isolation: dict = field(default_factory=dict)


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@functools.cache
def sandbox_python() -> str:
    """An interpreter an unprivileged uid can execute (the venv's may sit under a 0700 home)."""
    if not _is_root():
        raise PonderError("the code sandbox needs root (to switch uid and unshare namespaces); run as root")
    candidates = [sys.executable, os.path.realpath(sys.executable), "/usr/bin/python3", "/usr/local/bin/python3"]
    for py in dict.fromkeys(candidates):
        if os.path.isfile(py) and _probe(py):
            return py
    raise PonderError(f"no Python interpreter usable by an unprivileged uid among {candidates}")


def _probe(py: str) -> bool:
    res = _run_one("print(6*7)", Limits(wall_seconds=20, cpu_seconds=10), py)
    return res.exit_code == 0 and res.stdout.strip() == "42"


def _acquire_slot() -> int:
    with _SLOT_LOCK:
        return _FREE_SLOTS.pop() if _FREE_SLOTS else next(_SLOT_COUNTER)


def _release_slot(slot: int) -> None:
    with _SLOT_LOCK:
        _FREE_SLOTS.append(slot)


def _read_capped(path: Path, cap: int) -> tuple[str, bool]:
    """The file's text (at most `cap` bytes: RLIMIT_FSIZE stopped it there) and whether it hit the cap."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        data = f.read(cap)
    return data.decode("utf-8", errors="replace"), size >= cap


def _run_one(source: str, limits: Limits, python: str) -> SandboxResult:
    slot = _acquire_slot()
    host = Path(tempfile.mkdtemp(prefix="ponder-sbx-"))
    try:
        return _launch(source, limits, python, _UID_BASE + slot, host)
    finally:
        shutil.rmtree(host, ignore_errors=True)
        _release_slot(slot)


def _launch(source: str, limits: Limits, python: str, uid: int, host: Path) -> SandboxResult:
    (host / "program.py").write_text(source, encoding="utf-8")
    read_fd, write_fd = os.pipe()
    cfg = {
        "program": str(host / "program.py"), "host_dir": str(host / "work"), "uid": uid, "python": python,
        "status_fd": write_fd, "cpu_seconds": limits.cpu_seconds, "wall_seconds": limits.wall_seconds,
        "memory_mb": limits.memory_mb, "max_processes": limits.max_processes,
        "max_output_bytes": limits.max_output_bytes, "tmpfs_mb": limits.tmpfs_mb, "namespaces": list(limits.namespaces),
    }  # fmt: skip
    out_path, err_path = host / "stdout", host / "stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(LAUNCHER), json.dumps(cfg)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, pass_fds=(write_fd,),
            start_new_session=True, env={"PATH": "/usr/bin:/bin"},
        )  # fmt: skip
    os.close(write_fd)
    try:
        proc.wait(timeout=limits.wall_seconds + 10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # backstop: the launcher itself hung
        proc.wait()
    with os.fdopen(read_fd, "rb") as f:
        raw = f.read()
    try:
        report = json.loads(raw) if raw else {}
    except ValueError:
        report = {}
    stdout, trunc_out = _read_capped(out_path, limits.max_output_bytes)
    stderr, trunc_err = _read_capped(err_path, limits.max_output_bytes)
    return SandboxResult(
        exit_code=report.get("exit_code"), signal=report.get("signal"), timed_out=bool(report.get("timed_out")),
        stdout=stdout, stderr=stderr if report else stderr + f"\nsandbox launcher failed (exit {proc.returncode})",
        output_truncated=trunc_out or trunc_err, wall_seconds=float(report.get("wall_seconds", 0.0)),
        cpu_seconds=float(report.get("cpu_seconds", 0.0)),
        isolation=report.get("isolation", {}),
    )  # fmt: skip


def run_program(source: str, limits: Limits | None = None) -> SandboxResult:
    """Run one Python program in the sandbox and wait for it (never longer than the wall limit)."""
    return _run_one(source, limits or Limits(), sandbox_python())


def run_many(sources: list[str], limits: Limits | None = None, workers: int = 2) -> list[SandboxResult]:
    """Run programs in parallel, `workers` at a time; results in input order."""
    if not 1 <= workers <= MAX_WORKERS:
        raise PonderError(f"sandbox workers must be in 1..{MAX_WORKERS}, got {workers}")
    limits = limits or Limits()
    python = sandbox_python()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda s: _run_one(s, limits, python), sources))
