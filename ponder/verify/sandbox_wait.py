"""Waiting on and cleaning up after the sandboxed processes: the launcher's helpers (stdlib only).

`wait_for` waits on a process with a wall-clock deadline (pidfd + select, so it wakes the moment
the process ends) and kills it when the deadline passes; `MemoryWatch` is the fallback memory cap
when no memory cgroup is available (polls resident memory across the program's PID namespace);
`reap_all` reaps the orphans the launcher adopted as subreaper; `sweep` kills whatever still runs
as the sandbox uid; `read_all` drains a pipe. Imported by `sandbox_launch.py` as a sibling file
(the launcher runs as `python -I -S`, outside the package). Left out: cgroup accounting (the
kernel does it when a memory cgroup exists).
"""

import os
import select
import signal
import time


class MemoryWatch:
    """Without a memory cgroup: poll the resident memory of every process in the program's PID
    namespace (through its own /proc) and kill the namespace when the sum passes the cap. A
    burst between two polls (20 ms) can overshoot; each process stays under RLIMIT_AS anyway."""

    PAGE = os.sysconf("SC_PAGE_SIZE")

    def __init__(self, pid: int, cap_mb: int) -> None:
        self.pid, self.cap, self.tripped = pid, cap_mb << 20, False

    def resident(self) -> int:
        proc, total = f"/proc/{self.pid}/root/proc", 0
        try:
            names = [n for n in os.listdir(proc) if n.isdigit()]
        except OSError:
            return 0
        for name in names:
            try:
                with open(f"{proc}/{name}/statm", "rb") as f:
                    total += int(f.read().split()[1]) * self.PAGE
            except (OSError, IndexError, ValueError):
                pass
        return total

    def check(self) -> None:
        if not self.tripped and self.resident() > self.cap:
            self.tripped = True
            os.kill(self.pid, signal.SIGKILL)


def wait_for(pid: int, deadline: float, watch: MemoryWatch | None = None) -> tuple[int, object, bool]:
    """wait4 with a deadline; on timeout kill the process. Returns (status, rusage, timed_out)."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage, False
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            return status, usage, True
        step = min(left, 0.02) if watch else left
        if fd is not None:
            select.select([fd], [], [], step)
        else:
            time.sleep(min(step, 0.005))
        if watch:
            watch.check()


def reap_all(seconds: float = 2.0) -> None:
    """Reap the orphans this launcher adopted as subreaper (killed ones become zombies here)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.005)


def sweep(uid: int) -> None:
    """Kill every process still running as the sandbox uid (escaped its process group)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        os._exit(0)
    os.waitpid(pid, 0)


def read_all(fd: int) -> bytes:
    """Read a pipe to its end and close it."""
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)
