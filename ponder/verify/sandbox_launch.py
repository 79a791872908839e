"""The sandbox launcher: the trusted half of `sandbox.py`, run as its own script.

Started (stdlib only, `python -I -S`) in a fresh session by the verifier, it:
1. joins the run's cgroups (memory and process caps over the whole tree), when given any;
2. as a normal user, enters a new user namespace mapping only its own uid (so it may create the
   others; nothing gains a privilege outside); as root it instead switches the program to an
   unprivileged uid of its own later;
3. unshares a network namespace (a down loopback only) and an IPC namespace (System V shared
   memory, semaphores and message queues of its own);
4. in harness mode, forks the judge (harness_judge.py) here, outside the program's PID
   namespace: a uid of its own as root, no capabilities, non-dumpable; it runs the tests and
   writes the verdict to a pipe only it holds;
5. forks the program's process into a new PID namespace, which builds a minimal root file
   system (sandbox_root.py), sets the resource limits, drops privileges and execs the
   interpreter on the program (plain mode) or on harness_runner.py (harness mode);
6. waits up to the wall-clock limit, kills what is left, and writes a JSON report (exit status,
   timeout, verdict, what isolation held) to a file descriptor from the caller.

It exists as a separate script so that nothing runs between fork and exec in the (multi-threaded)
verifier process. Left out: a system-call filter (seccomp). See docs/verify.md.
"""

import ctypes
import fcntl
import json
import os
import resource
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sandbox_root  # noqa: E402 - a sibling file, found through the path set just above
from sandbox_wait import MemoryWatch, read_all, reap_all, sweep, wait_for  # noqa: E402 - a sibling too

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER = 0x00020000, 0x08000000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 4, 36, 38
HARNESS_FILES = ("harness_wire.py", "harness_runner.py")
REQUESTS, REPLIES = 3, 4  # the runner's fds


def _unshare(libc: ctypes.CDLL, flag: int) -> bool:
    return libc.unshare(flag) == 0


def _enter_user_namespace(libc: ctypes.CDLL) -> bool:
    uid, gid = os.getuid(), os.getgid()
    if not _unshare(libc, CLONE_NEWUSER):
        return False
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    return True


def _enter_identity_user_namespace(libc: ctypes.CDLL) -> bool:
    """As root: a user namespace mapping every uid to itself (a forked helper left outside
    writes the maps), so the sandbox keeps its uids but holds no capability outside it."""
    go_r, go_w = os.pipe()
    helper = os.fork()
    if helper == 0:
        os.close(go_w)
        ok = os.read(go_r, 1) == b"1"
        try:
            for name in ("uid_map", "gid_map"):
                with open(f"/proc/{os.getppid()}/{name}", "w") as f:
                    f.write("0 0 4294967295")
        except OSError:
            ok = False
        os._exit(0 if ok else 1)
    os.close(go_r)
    entered = _unshare(libc, CLONE_NEWUSER)
    os.write(go_w, b"1" if entered else b"0")
    os.close(go_w)
    _, status = os.waitpid(helper, 0)
    return entered and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _block_nested_user_namespaces() -> bool:
    """No process of the sandbox may create a user namespace of its own (limit 0 in ours)."""
    try:
        with open("/proc/sys/user/max_user_namespaces", "w") as f:
            f.write("0")
    except OSError:
        return False
    return True


def _drop_capabilities(libc: ctypes.CDLL) -> None:
    """Clear every capability without exec (the user-namespace judge keeps its uid)."""
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def _limits(cfg: dict, nproc: int) -> None:
    cpu = int(cfg["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU first, SIGKILL a second later
    for kind, value in ((resource.RLIMIT_AS, int(cfg["memory_mb"]) << 20), (resource.RLIMIT_NPROC, nproc),
                        (resource.RLIMIT_FSIZE, int(cfg["max_output_bytes"])), (resource.RLIMIT_NOFILE, 64),
                        (resource.RLIMIT_CORE, 0)):  # fmt: skip
        resource.setrlimit(kind, (value, value))


def _drop_privileges(libc: ctypes.CDLL, cfg: dict, uid: int) -> None:
    if cfg["userns"]:
        _drop_capabilities(libc)
    else:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def _judge(cfg: dict, job: dict, libc: ctypes.CDLL, fds: dict) -> None:
    """Runs in the forked judge: limits, no privileges, run the tests, write the verdict."""
    try:
        import harness_judge

        for name in ("req_r", "rep_w", "verdict_r", "status"):
            os.close(fds[name])
        os.chdir("/")
        _limits(cfg, nproc=4)
        _drop_privileges(libc, cfg, int(cfg["judge_uid"]))
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        verdict = harness_judge.judge(job["spec"], fds["req_w"], fds["rep_r"])
    except BaseException as e:  # noqa: BLE001 - the judge itself failed: report, never pass
        verdict = {"status": "error", "reason": f"judge failed: {type(e).__name__}: {e}"[:300]}
    os.write(fds["verdict_w"], json.dumps(verdict).encode())
    os._exit(0)


def _child(cfg: dict, job: dict, libc: ctypes.CDLL, fds: dict, iso: dict) -> None:
    """Runs in the program's process: file system, limits, drop privileges, exec. Never returns."""
    try:
        harness = job["spec"] is not None
        for name in ("req_w", "rep_r", "verdict_r", "verdict_w", "status"):
            if name in fds:
                os.close(fds[name])
        owner = None if cfg["userns"] else int(cfg["uid"])
        state = {"root": False, "proc": False}
        if "mount" in cfg["namespaces"]:
            if not _unshare(libc, CLONE_NEWNS):
                raise OSError("could not create a mount namespace")
            files = {n: job["files"][n] for n in HARNESS_FILES} if harness else {}
            state["proc"] = sandbox_root.enter_minimal_root(libc, cfg, files, owner, iso["pid"])
            state["root"] = True
            workdir, harness_dir = sandbox_root.WORKDIR, sandbox_root.HARNESS_DIR
        else:
            workdir = harness_dir = _host_workdir(cfg, job, owner)
        os.write(fds["report_w"], json.dumps(state).encode())
        os.close(fds["report_w"])
        path = os.path.join(workdir, "program.py")
        with open(path, "wb") as f:
            f.write(job["program"].encode("utf-8", "replace"))
        if owner is not None:
            os.chown(path, owner, owner)
        if harness:
            for fd, target in ((fds["req_r"], REQUESTS), (fds["rep_w"], REPLIES)):
                os.dup2(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10), target)
        _limits(cfg, nproc=int(cfg["max_processes"]) + (2 if cfg["userns"] else 0))
        _drop_privileges(libc, cfg, int(cfg["uid"]))
        os.chdir(workdir)
        env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
        py = cfg["python"]
        argv = [py, "-I", "-B", os.path.join(harness_dir, "harness_runner.py"), harness_dir] if harness else [
            py, "-I", "-B", "program.py"]  # fmt: skip
        os.execve(py, argv, env)
    except BaseException as e:  # noqa: BLE001 - report any setup failure through stderr and exit
        os.write(2, f"sandbox setup failed: {type(e).__name__}: {e}\n".encode())
    os._exit(126)


def _host_workdir(cfg: dict, job: dict, owner: int | None) -> str:
    """Without a mount namespace: a folder under the caller's private temporary directory."""
    workdir = cfg["host_dir"]
    os.makedirs(workdir, exist_ok=True)
    os.chmod(os.path.dirname(workdir), 0o711)  # the uid must pass through the caller's 0700 folder
    if job["spec"] is not None:
        for name in HARNESS_FILES:
            with open(os.path.join(workdir, name), "wb") as f:
                f.write(job["files"][name])
    if owner is not None:
        os.chown(workdir, owner, owner)
    os.chmod(workdir, 0o700)
    return workdir


def _isolate(cfg: dict, libc: ctypes.CDLL) -> dict:
    for path in cfg.get("cgroup_procs", []):
        with open(path, "w") as f:
            f.write(str(os.getpid()))
    want = set(cfg["namespaces"])
    if cfg["userns"]:
        iso = {"userns": _enter_user_namespace(libc)}
    else:
        iso = {"userns": bool(want) and _enter_identity_user_namespace(libc)}
    iso["nested_userns_blocked"] = iso["userns"] and _block_nested_user_namespaces()
    iso["network"] = "network" in want and _unshare(libc, CLONE_NEWNET)
    iso["ipc"] = "ipc" in want and _unshare(libc, CLONE_NEWIPC)
    iso["uid"] = os.getuid() if cfg["userns"] else cfg["uid"]
    iso["memory_cgroup"] = cfg.get("cgroup_kind")  # None: the launcher's polling MemoryWatch instead
    return iso


def _run(cfg: dict, job: dict, libc: ctypes.CDLL, status_fd: int) -> dict:
    iso = _isolate(cfg, libc)
    if cfg["userns"] and not iso["userns"]:
        return {"error": "could not create a user namespace", "isolation": iso}
    fds = {"status": status_fd}
    fds["req_r"], fds["req_w"] = os.pipe()
    fds["rep_r"], fds["rep_w"] = os.pipe()
    fds["verdict_r"], fds["verdict_w"] = os.pipe()
    judge = None
    if job["spec"] is not None:
        judge = os.fork()
        if judge == 0:
            _judge(cfg, job, libc, fds)
    os.close(fds.pop("verdict_w"))
    iso["pid"] = "pid" in cfg["namespaces"] and _unshare(libc, CLONE_NEWPID)
    report_r, fds["report_w"] = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(cfg, job, libc, fds, iso)
    for name in ("req_r", "req_w", "rep_r", "rep_w", "report_w"):
        os.close(fds[name])
    state = json.loads(read_all(report_r) or b"{}")
    iso["mount"], iso["private_proc"] = bool(state.get("root")), bool(state.get("proc"))
    deadline = start + float(cfg["wall_seconds"])
    watch = MemoryWatch(pid, int(cfg["total_memory_mb"])) if not cfg.get("cgroup_kind") and iso["pid"] else None
    judge_timed_out = False
    if judge is not None:
        _, _, judge_timed_out = wait_for(judge, deadline, watch)
        os.kill(pid, signal.SIGKILL)  # the tests are over; with a PID namespace this ends them all
    status, usage, timed_out = wait_for(pid, deadline, watch)
    if not iso["pid"] and not cfg["userns"]:
        sweep(int(cfg["uid"]))
    reap_all()
    verdict = json.loads(read_all(fds["verdict_r"]) or b"null")
    return {
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "timed_out": timed_out or judge_timed_out, "verdict": verdict, "memory_capped": bool(watch and watch.tripped),
        "wall_seconds": time.monotonic() - start, "cpu_seconds": usage.ru_utime + usage.ru_stime, "isolation": iso,
    }  # fmt: skip


def main() -> int:
    cfg = json.loads(sys.argv[1])
    status_fd = int(cfg["status_fd"])
    os.set_inheritable(status_fd, False)  # the program must not be able to forge its own status
    with open(cfg["job"], encoding="utf-8") as f:
        job = json.load(f)  # before a new root hides the caller's directory
    here = os.path.dirname(os.path.abspath(__file__))
    job["files"] = {}
    for name in HARNESS_FILES if job["spec"] is not None else ():
        with open(os.path.join(here, name), "rb") as f:
            job["files"][name] = f.read()
    cfg["extra_ro"] = sorted({sys.prefix, sys.base_prefix, sys.exec_prefix})
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans come to us, so we can reap them
    report = _run(cfg, job, libc, status_fd)
    os.write(status_fd, json.dumps(report).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
