"""Run untrusted Python programs in a sandbox, many in parallel, as root or as a normal user.

Each run goes through `sandbox_launch.py` (see there for the mechanics) in a new session: CPU,
wall-clock, address-space, process, file-size (= output) and open-file limits; a memory and
process cap over the whole process tree where a cgroup can be made (sandbox_cgroup.py); a
scrubbed environment; no network, System V IPC of its own, a minimal read-only root file system
with private /tmp (no /run, no host sockets, no repository or data sets), its own PID namespace.
Two ways to get there, chosen once per process (`sandbox_mode`):
- root: namespaces directly, and the program runs as an unprivileged uid of its own (one per
  parallel slot, so process caps and the final sweep never touch another program);
- a normal user: an unprivileged user namespace that maps only the user's own uid (the kernel
  feature bubblewrap uses when not setuid; no extra binary needed).
Where neither works, or a requested namespace cannot be made, it refuses (PonderError) rather
than run a program without isolation. `run_program` runs a plain program; `run_jobs` runs a
program against tests with the judge/runner split of harness_judge.py / harness_runner.py.

Left out: system-call filtering. docs/verify.md says what this does and does not stop.
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
from ponder.verify import sandbox_cgroup

LAUNCHER = Path(__file__).with_name("sandbox_launch.py")
MAX_WORKERS = 64
NAMESPACES = ("network", "ipc", "mount", "pid")
# a uid range per verifier process: programs at base + slot, judges at base + MAX_WORKERS + slot
_UID_BASE = 200_000 + (os.getpid() % 50_000) * 2 * MAX_WORKERS
_SLOT_COUNTER = itertools.count()
_SLOT_LOCK = threading.Lock()
_FREE_SLOTS: list[int] = []
_PROBE = ("import math\ndef f(x):\n    return math.floor(x)\n", {"form": "mbpp", "test_list": ["assert f(2.5) == 2"]})


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 5
    wall_seconds: float = 10.0
    memory_mb: int = 512  # address space per process
    total_memory_mb: int = 1024  # the whole process tree, where a cgroup can be made
    max_processes: int = 8  # processes + threads of the program
    max_output_bytes: int = 1 << 20  # per file, stdout and stderr included
    tmpfs_mb: int = 32
    # Namespaces (each reported in SandboxResult.isolation); as root, fewer to accept less isolation.
    namespaces: tuple[str, ...] = NAMESPACES

    def __post_init__(self) -> None:
        for name in ("cpu_seconds", "wall_seconds", "memory_mb", "total_memory_mb", "max_processes",
                     "max_output_bytes", "tmpfs_mb"):  # fmt: skip
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0 and value < float("inf")):
                raise PonderError(f"sandbox limit {name} must be a finite number > 0, got {value}")
        unknown = set(self.namespaces) - set(NAMESPACES)
        if unknown:
            raise PonderError(f"unknown sandbox namespaces {sorted(unknown)}; known: {', '.join(NAMESPACES)}")


@dataclass
class SandboxResult:
    """exit_code is None when the program died of a signal; `verdict` is the judge's (harness
    runs only); `isolation` says what held."""

    exit_code: int | None
    signal: int | None
    timed_out: bool
    stdout: str
    stderr: str
    output_truncated: bool
    wall_seconds: float
    cpu_seconds: float = 0.0
    isolation: dict = field(default_factory=dict)
    verdict: dict | None = None
    memory_capped: bool = False  # the cgroup's memory cap killed a process of this run


@functools.cache
def sandbox_mode() -> str:
    """ "root" or "userns"; PonderError when this machine allows neither."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return "root"
    if sys.platform == "linux" and _userns_works():
        return "userns"
    raise PonderError(
        "the code sandbox needs root or unprivileged user namespaces (sysctl user.max_user_namespaces > 0, "
        "kernel.unprivileged_userns_clone = 1, no AppArmor restriction); refusing to run untrusted code unisolated"
    )


def _userns_works() -> bool:
    probe = "import ctypes, sys\nsys.exit(0 if ctypes.CDLL(None, use_errno=True).unshare(0x10000000) == 0 else 1)"
    try:
        return subprocess.run([sys.executable, "-I", "-S", "-c", probe], timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.cache
def sandbox_python(namespaces: tuple[str, ...] = NAMESPACES) -> str:
    """An interpreter that works in the sandbox, for the launcher (and judge) and the program,
    with every requested namespace holding (the venv's may sit under a 0700 home)."""
    mode = sandbox_mode()
    if mode == "userns" and set(namespaces) != set(NAMESPACES):
        raise PonderError(
            f"as a normal user the sandbox needs every namespace ({', '.join(NAMESPACES)}); got {namespaces}"
        )
    candidates = [sys.executable, os.path.realpath(sys.executable), "/usr/bin/python3", "/usr/local/bin/python3"]
    limits = Limits(wall_seconds=30, cpu_seconds=10, namespaces=namespaces)
    missing: list[str] = []
    for py in dict.fromkeys(candidates):
        if not os.path.isfile(py):
            continue
        res = _run_one(_PROBE[0], _PROBE[1], limits, py)
        held = {k for k in namespaces if res.isolation.get(k)}
        if res.verdict == {"status": "passed", "reason": "all tests passed"} and held == set(namespaces):
            return py
        missing = sorted(set(namespaces) - held) or missing
    if missing:
        raise PonderError(
            f"the code sandbox ({mode}) could not create these namespaces: {', '.join(missing)}; "
            "refusing to run untrusted code without them (as root, Limits(namespaces=...) accepts less)"
        )
    raise PonderError(f"no Python interpreter works in the sandbox ({mode}) among {candidates}")


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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@functools.cache
def remove_stale() -> int:
    """Remove the temporary folders (and cgroups) of verifier processes that were killed before
    they could clean up (named ponder-sbx-PID-...); once per process. Returns how many."""
    removed = 0
    for path in Path(tempfile.gettempdir()).glob("ponder-sbx-*-*"):
        pid = path.name.split("-")[2]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed + sandbox_cgroup.remove_stale(_pid_alive)


def _run_one(source: str, spec: dict | None, limits: Limits, python: str) -> SandboxResult:
    remove_stale()
    slot = _acquire_slot()
    host = Path(tempfile.mkdtemp(prefix=f"ponder-sbx-{os.getpid()}-"))
    try:
        group = sandbox_cgroup.slot_cgroup(slot, limits.total_memory_mb, limits.max_processes + 3)
        kills = sandbox_cgroup.oom_kills(group) if group else 0
        try:
            res = _launch(source, spec, limits, python, slot, host, group)
        finally:
            if group:
                sandbox_cgroup.empty(group)
        res.memory_capped = res.memory_capped or (bool(group) and sandbox_cgroup.oom_kills(group) > kills)
        return res
    finally:
        shutil.rmtree(host, ignore_errors=True)
        _release_slot(slot)


def _config(limits: Limits, python: str, slot: int, host: Path, group) -> dict:
    return {
        "job": str(host / "job.json"), "host_dir": str(host / "work"), "python": python,
        "userns": sandbox_mode() == "userns", "uid": _UID_BASE + slot, "judge_uid": _UID_BASE + MAX_WORKERS + slot,
        "cpu_seconds": limits.cpu_seconds, "wall_seconds": limits.wall_seconds, "memory_mb": limits.memory_mb,
        "max_processes": limits.max_processes, "max_output_bytes": limits.max_output_bytes,
        "tmpfs_mb": limits.tmpfs_mb, "namespaces": list(limits.namespaces), "total_memory_mb": limits.total_memory_mb,
        "cgroup_procs": group.procs_files if group else [], "cgroup_kind": group.kind if group else None,
    }  # fmt: skip


def _launch(source: str, spec: dict | None, limits: Limits, python: str, slot: int, host: Path, group) -> SandboxResult:
    (host / "job.json").write_text(json.dumps({"program": source, "spec": spec}), encoding="utf-8")
    read_fd, write_fd = os.pipe()
    cfg = {**_config(limits, python, slot, host, group), "status_fd": write_fd}
    out_path, err_path = host / "stdout", host / "stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [python, "-I", "-S", str(LAUNCHER), json.dumps(cfg)],
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
    if not report or "error" in report:
        stderr += f"\nsandbox launcher failed (exit {proc.returncode}): {report.get('error', '')}"
    return SandboxResult(
        exit_code=report.get("exit_code"), signal=report.get("signal"), timed_out=bool(report.get("timed_out")),
        stdout=stdout, stderr=stderr, output_truncated=trunc_out or trunc_err,
        wall_seconds=float(report.get("wall_seconds", 0.0)), cpu_seconds=float(report.get("cpu_seconds", 0.0)),
        isolation=report.get("isolation", {}), verdict=report.get("verdict"), memory_capped=bool(report.get("memory_capped")),
    )  # fmt: skip


def run_program(source: str, limits: Limits | None = None) -> SandboxResult:
    """Run one Python program in the sandbox and wait for it (never longer than the wall limit)."""
    limits = limits or Limits()
    return _run_one(source, None, limits, sandbox_python(limits.namespaces))


def _check_workers(workers: int) -> None:
    if not (isinstance(workers, int) and 1 <= workers <= MAX_WORKERS):
        raise PonderError(f"sandbox workers must be an integer in 1..{MAX_WORKERS}, got {workers!r}")


def run_many(sources: list[str], limits: Limits | None = None, workers: int = 2) -> list[SandboxResult]:
    """Run plain programs in parallel, `workers` at a time; results in input order."""
    return run_jobs([(s, None) for s in sources], limits, workers)


def run_jobs(
    jobs: list[tuple[str, dict | None]], limits: Limits | None = None, workers: int = 2
) -> list[SandboxResult]:
    """Run (program, test spec) pairs in parallel (spec None: a plain program); input order."""
    _check_workers(workers)
    limits = limits or Limits()
    python = sandbox_python(limits.namespaces)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda job: _run_one(job[0], job[1], limits, python), jobs))
