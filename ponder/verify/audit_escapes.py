"""A catalogue of sandbox escapes: programs that try to reach the host, and how to tell they failed.

`run_escapes()` prepares the host side (a listening Unix socket under /run and /tmp, an abstract
socket, a TCP port on loopback, a file the program must not read), runs each program in the
sandbox, and checks on the host that nothing got out: System V IPC objects left behind or shared
between runs, host Unix/abstract/TCP sockets reached, files outside the sandbox read or written,
the verifier signalled, user namespaces created inside, memory over the whole process tree.
Each result says whether the attempt was contained. Used by tests/verify and the Proof table in
docs/verify.md.

Left out: kernel exploits, timing side channels, CPU-cache attacks.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ponder.verify.sandbox import Limits, run_program

ESCAPE_LIMITS = Limits(cpu_seconds=4, wall_seconds=8, memory_mb=256, total_memory_mb=384, max_processes=8)
SHM_KEY = 0x50DD15

_SYSV = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
IPC_CREAT = 0o1000
mode = sys.argv[1] if len(sys.argv) > 1 else "{mode}"
if mode == "create":
    sid = libc.shmget({key}, 64 << 20, IPC_CREAT | 0o666)
    addr = libc.shmat(sid, None, 0)
    if addr not in (None, ctypes.c_void_p(-1).value):
        ctypes.memset(addr, 7, 64 << 20)
        ctypes.memmove(addr, b"secret-from-run-1", 17)
    print("sem", libc.semget({key}, 4, IPC_CREAT | 0o666), "msg", libc.msgget({key}, IPC_CREAT | 0o666))
    print("shm", sid)
else:
    sid = libc.shmget({key}, 0, 0)
    print("absent" if sid < 0 else "found")
"""

_SOCKETS = """
import os, socket
hits = []
paths = {paths!r}
for top in ("/run", "/var/run", "/tmp"):
    for root, dirs, files in os.walk(top):
        paths += [os.path.join(root, f) for f in files]
for path in paths + ["\\0" + {abstract!r}]:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(1)
    try:
        s.connect(path)
        hits.append(path)
    except OSError:
        pass
for addr in (("127.0.0.1", {port}), ("1.1.1.1", 53)):
    try:
        socket.create_connection(addr, timeout=1)
        hits.append(str(addr))
    except OSError:
        pass
print("HITS", hits)
"""

_FILES = """
import os
seen = []
for path in {paths!r}:
    try:
        with open(path, "rb") as f:
            f.read(1)
        seen.append(path)
    except OSError:
        pass
    try:
        os.listdir(path)
        seen.append(path)
    except OSError:
        pass
try:
    open({outside!r}, "w").write("escaped")
    seen.append("wrote outside")
except OSError:
    pass
print("SEEN", seen)
"""

_SIGNAL = """
import os, signal
for pid in ({verifier}, os.getppid(), 1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
print("alive")
"""

_USERNS = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
print("NEWUSER", libc.unshare(0x10000000))
"""

_MEMORY = """
import os, time
kids = []
for _ in range(6):
    pid = os.fork()
    if pid == 0:
        try:
            block = bytearray(150 << 20)
            for i in range(0, len(block), 4096):
                block[i] = 1
            print("held", flush=True)
            time.sleep(4)
        except MemoryError:
            pass
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
"""


@dataclass
class EscapeResult:
    name: str
    contained: bool
    detail: str


def _sysv_on_host(key: int) -> bool:
    for kind in ("shm", "sem", "msg"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]:
                if line.split() and int(line.split()[0]) == key:
                    return True
    return False


def _remove_sysv(key: int) -> None:
    """Remove System V objects with `key` (an earlier unsandboxed run may have left them)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    ipc_rmid = 0
    for get, ctl in ((libc.shmget, libc.shmctl), (libc.msgget, libc.msgctl)):
        ident = get(key, 0, 0)
        if ident >= 0:
            ctl(ident, ipc_rmid, None)
    ident = libc.semget(key, 0, 0)
    if ident >= 0:
        libc.semctl(ident, 0, ipc_rmid)


def _listeners(tmp: Path) -> tuple[list[socket.socket], list[str], str, int]:
    socks, paths = [], []
    for folder in ("/run", str(tmp)):
        path = os.path.join(folder, f"ponder-audit-{os.getpid()}.sock")
        s = socket.socket(socket.AF_UNIX)
        with contextlib.suppress(OSError):
            s.bind(path)
            s.listen(4)
            os.chmod(path, 0o777)
            socks.append(s)
            paths.append(path)
    abstract = f"ponder-audit-{os.getpid()}"
    a = socket.socket(socket.AF_UNIX)
    a.bind("\0" + abstract)
    a.listen(4)
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    t.listen(4)
    return [*socks, a, t], paths, abstract, t.getsockname()[1]


def run_escapes(limits: Limits = ESCAPE_LIMITS, secret_paths: tuple[str, ...] = ()) -> list[EscapeResult]:
    """Run every escape attempt; `secret_paths` are extra host paths that must stay unreadable."""
    out: list[EscapeResult] = []
    _remove_sysv(SHM_KEY)
    if _sysv_on_host(SHM_KEY):
        out.append(EscapeResult("sysv_ipc_left_on_host", False, "could not clear the key on the host first"))
    first = run_program(_SYSV.format(mode="create", key=SHM_KEY), limits)
    second = run_program(_SYSV.format(mode="read", key=SHM_KEY), limits)
    left = _sysv_on_host(SHM_KEY)
    _remove_sysv(SHM_KEY)  # never leave 64 MB held on the host, whatever happened
    if not any(r.name == "sysv_ipc_left_on_host" for r in out):
        out.append(EscapeResult("sysv_ipc_left_on_host", not left, first.stdout.strip()))
    out.append(EscapeResult("sysv_ipc_shared_between_runs", second.stdout.strip() == "absent", second.stdout.strip()))
    with tempfile.TemporaryDirectory(prefix="ponder-audit-") as tmp:
        socks, paths, abstract, port = _listeners(Path(tmp))
        try:
            res = run_program(_SOCKETS.format(paths=paths, abstract=abstract, port=port), limits)
        finally:
            for s in socks:
                s.close()
            for p in paths:
                with contextlib.suppress(OSError):
                    os.remove(p)
        out.append(EscapeResult("host_sockets", res.stdout.startswith("HITS []"), res.stdout.strip()[:300]))
        secret = Path(tmp) / "secret.txt"
        secret.write_text("reference answers")
        secret.chmod(0o644)
        outside = Path(tmp) / "escaped.txt"
        watch = [str(secret), "/work", "/root", "/home", "/etc/passwd", "/etc/shadow", "/sys", "/run", "/var/run",
                 os.path.abspath(__file__), *secret_paths]  # fmt: skip
        res = run_program(_FILES.format(paths=watch, outside=str(outside)), limits)
        ok = res.stdout.startswith("SEEN []") and not outside.exists()
        out.append(EscapeResult("files_outside", ok, res.stdout.strip()[:300]))
    res = run_program(_SIGNAL.format(verifier=os.getpid()), limits)
    out.append(EscapeResult("signal_the_verifier", "alive" in res.stdout, res.stdout.strip()))
    res = run_program(_USERNS, limits)
    out.append(EscapeResult("nested_user_namespace", res.stdout.strip() == "NEWUSER -1", res.stdout.strip()))
    res = run_program(_MEMORY, limits)
    held = res.stdout.count("held")
    ok = res.memory_capped or held * 150 <= limits.total_memory_mb
    out.append(
        EscapeResult(
            "memory_over_process_tree", ok, f"{held} x 150 MB held; cgroup {res.isolation.get('memory_cgroup')}"
        )
    )
    return out
