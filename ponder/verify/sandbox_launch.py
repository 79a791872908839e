"""The sandbox launcher: the trusted half of `sandbox.run_program`, run as its own script.

It is started (stdlib only, `python -I -S`) in a fresh session by the verifier and then:
1. unshares what the platform allows (each tried separately and reported): a network namespace
   (only a down loopback inside), a mount namespace with private, size-capped tmpfs over /tmp,
   /var/tmp, /dev/shm and /run/lock (the program's working directory lives there), a PID namespace
   with its own /proc (so the program sees no other process);
2. forks the program's process, which sets the resource limits (CPU, address space, processes,
   file size, open files, no core), drops all groups and switches to an unprivileged uid/gid
   chosen by the caller, and execs the interpreter on the program with an explicit environment;
3. waits up to the wall-clock limit, kills the program's process (and with it its PID namespace),
   sweeps any process left under that uid when there was no PID namespace (the launcher is a
   child subreaper, so it also reaps the orphans it killed), and writes a JSON
   status (exit code, signal, timeout, what isolation held) to a file descriptor from the caller.

It does not filter system calls (no seccomp) and does not cap total memory across processes
(no cgroup): see docs/verify.md. It exists as a separate script so that nothing runs between
fork and exec in the (multi-threaded) verifier process.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import signal
import sys
import time

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 16384, 1 << 18
PRIVATE_TMPFS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
WORKDIR = "/tmp/work"
PR_SET_CHILD_SUBREAPER = 36


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _unshare(libc: ctypes.CDLL, flag: int) -> bool:
    return libc.unshare(flag) == 0


def _private_tmp(libc: ctypes.CDLL, size_mb: int) -> bool:
    """New mount namespace; every world-writable directory becomes a private tmpfs."""
    if not _unshare(libc, CLONE_NEWNS):
        return False
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return False
    opts = f"size={size_mb}m,mode=1777".encode()
    for path in PRIVATE_TMPFS:
        if os.path.isdir(path) and libc.mount(b"tmpfs", path.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts) != 0:
            return False
    return True


def _prepare_workdir(cfg: dict, source: bytes, private_tmp: bool) -> str:
    """The program's working directory, owned by the sandbox uid, holding program.py."""
    workdir = WORKDIR if private_tmp else cfg["host_dir"]
    os.makedirs(workdir, exist_ok=True)
    if not private_tmp:  # the uid must be able to pass through the caller's 0700 directory
        os.chmod(os.path.dirname(workdir), 0o711)
    path = os.path.join(workdir, "program.py")
    with open(path, "wb") as f:
        f.write(source)
    for p in (workdir, path):
        os.chown(p, cfg["uid"], cfg["uid"])
    os.chmod(workdir, 0o700)
    return workdir


def _limit(kind: int, value: int, hard_extra: int = 0) -> None:
    resource.setrlimit(kind, (value, value + hard_extra))


def _own_proc(libc: ctypes.CDLL) -> bool:
    """A /proc of the new PID namespace, so `ps` shows only the sandbox (needs pid + mount ns)."""
    return libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None) == 0


def _child(cfg: dict, workdir: str, libc: ctypes.CDLL, private_ns: bool, report_fd: int) -> None:
    """Runs in the forked process: own /proc, limits, drop privileges, exec. Never returns."""
    try:
        os.write(report_fd, b"1" if private_ns and _own_proc(libc) else b"0")
        os.close(report_fd)
        _limit(resource.RLIMIT_CPU, int(cfg["cpu_seconds"]), hard_extra=1)  # SIGXCPU first
        _limit(resource.RLIMIT_AS, int(cfg["memory_mb"]) << 20)
        _limit(resource.RLIMIT_NPROC, int(cfg["max_processes"]))
        _limit(resource.RLIMIT_FSIZE, int(cfg["max_output_bytes"]))
        _limit(resource.RLIMIT_NOFILE, 64)
        _limit(resource.RLIMIT_CORE, 0)
        os.setgroups([])
        os.setgid(cfg["uid"])
        os.setuid(cfg["uid"])
        os.chdir(workdir)
        env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
        py = cfg["python"]
        os.execve(py, [py, "-I", "-B", "program.py"], env)
    except BaseException as e:  # noqa: BLE001 - report any setup failure through stderr and exit
        os.write(2, f"sandbox setup failed: {type(e).__name__}: {e}\n".encode())
    os._exit(126)


def _wait(pid: int, wall_seconds: float) -> tuple[int, bool]:
    """waitpid with a wall-clock limit; on timeout kill the program. Returns (status, timed_out)."""
    deadline = time.monotonic() + wall_seconds
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status, False
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            return os.waitpid(pid, 0)[1], True
        if fd is not None:
            select.select([fd], [], [], left)
        else:
            time.sleep(min(left, 0.005))


def _reap_all(seconds: float = 2.0) -> None:
    """Reap the orphans this launcher adopted as subreaper (killed ones become zombies here)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.005)


def _sweep(uid: int) -> None:
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


def main() -> int:
    cfg = json.loads(sys.argv[1])
    status_fd = int(cfg["status_fd"])
    os.set_inheritable(status_fd, False)  # the program must not be able to forge its own status
    with open(cfg["program"], "rb") as f:
        source = f.read()  # before a private /tmp hides the caller's directory
    libc = _libc()
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans come to us, so we can reap them
    want = set(cfg["namespaces"])
    iso = {
        "network": "network" in want and _unshare(libc, CLONE_NEWNET),
        "private_tmp": "mount" in want and _private_tmp(libc, int(cfg["tmpfs_mb"])),
    }
    workdir = _prepare_workdir(cfg, source, iso["private_tmp"])
    iso["pid"] = "pid" in want and _unshare(libc, CLONE_NEWPID)
    iso["uid"] = cfg["uid"]
    start = time.monotonic()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(cfg, workdir, libc, iso["pid"] and iso["private_tmp"], write_fd)
    os.close(write_fd)
    iso["private_proc"] = os.read(read_fd, 1) == b"1"
    os.close(read_fd)
    status, timed_out = _wait(pid, float(cfg["wall_seconds"]))
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if not iso["pid"]:
        _sweep(cfg["uid"])
    _reap_all()
    report = {
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "timed_out": timed_out,
        "wall_seconds": time.monotonic() - start,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "isolation": iso,
    }
    os.write(status_fd, json.dumps(report).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
