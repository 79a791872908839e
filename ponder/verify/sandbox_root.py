"""A minimal file system for the sandboxed program: only what a Python interpreter needs.

Run by the sandbox launcher in the program's process (before it drops privileges), inside a
new mount namespace: a small tmpfs becomes the new root (`pivot_root`), holding read-only bind
mounts of /usr, /bin, /lib*, /sbin, a few files of /etc, the interpreter's own installation when
it lives elsewhere, the device nodes null/zero/random/urandom, a fresh /proc (when the program
has its own PID namespace), and size-capped tmpfs at /tmp and /dev/shm. Everything else — the
repository, data sets with reference answers, home folders, /run and /var/run with the host's
Unix sockets, /sys — does not exist for the program. The root itself is then made read-only.

Stdlib only (loaded by the launcher as a script's sibling). Works as root and inside an
unprivileged user namespace; left out: hiding world-readable files under /usr and /etc/ld.so.*.
"""

import ctypes
import os

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41}.get(os.uname().machine, 155)  # no libc wrapper
STAGING = "/tmp"  # any existing directory: covered by the new root's tmpfs in this namespace only
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf", "/etc/mime.types")
DEVICES = ("null", "zero", "random", "urandom")
WORKDIR = "/tmp/work"
HARNESS_DIR = "/harness"


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(libc, src, target: str, fstype, flags: int, data: bytes | None = None) -> None:
    enc = lambda s: s.encode() if isinstance(s, str) else s  # noqa: E731
    _check(libc.mount(enc(src), target.encode(), enc(fstype), flags, data), f"mount {target}")


def _bind_ro(libc, src: str, target: str) -> None:
    if os.path.isdir(src):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(libc, src, target, None, MS_BIND | MS_REC)
    _mount(libc, None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _populate(libc, new: str, extra_ro: list[str]) -> None:
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            os.symlink(os.readlink(path), new + path)
        elif os.path.isdir(path):
            _bind_ro(libc, path, new + path)
    os.makedirs(new + "/etc")
    for path in ETC_FILES:
        if os.path.isfile(path):
            _bind_ro(libc, os.path.realpath(path), new + path)
    for path in extra_ro:  # the interpreter's installation (a venv and the Python it points to)
        for target in dict.fromkeys((path, os.path.realpath(path))):
            inside = target in SYSTEM_DIRS or target.startswith(tuple(d + "/" for d in SYSTEM_DIRS))
            if os.path.isdir(target) and not inside and target != "/":
                _bind_ro(libc, os.path.realpath(target), new + target)
    os.makedirs(new + "/dev")
    for dev in DEVICES:
        open(new + "/dev/" + dev, "a").close()
        _mount(libc, "/dev/" + dev, new + "/dev/" + dev, None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(target, new + "/dev/" + name)


def _pivot_root(libc, new: str) -> None:
    os.chdir(new)
    os.makedirs("old")
    _check(libc.syscall(SYS_PIVOT_ROOT, b".", b"old"), "pivot_root")
    os.chroot(".")
    _check(libc.umount2(b"/old", MNT_DETACH), "umount old root")
    os.rmdir("/old")


def enter_minimal_root(libc, cfg: dict, files: dict[str, bytes], owner: int | None, own_proc: bool) -> bool:
    """Replace this process's root (it must be alone in a fresh mount namespace). `files` go to
    HARNESS_DIR (name -> bytes); the working folder WORKDIR belongs to `owner`. Returns whether a
    private /proc was mounted. Raises OSError when a step fails."""
    _mount(libc, "none", "/", None, MS_REC | MS_PRIVATE)
    new = STAGING
    _mount(libc, "tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, b"size=4m,mode=755")
    _populate(libc, new, list(cfg.get("extra_ro", [])))
    tmpfs = f"size={int(cfg['tmpfs_mb'])}m,mode=1777".encode()
    for path in ("/tmp", "/dev/shm"):
        os.makedirs(new + path, exist_ok=True)
        _mount(libc, "tmpfs", new + path, "tmpfs", MS_NOSUID | MS_NODEV, tmpfs)
    proc = False
    if own_proc:
        os.makedirs(new + "/proc")
        proc = libc.mount(b"proc", (new + "/proc").encode(), b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None) == 0
    os.makedirs(new + HARNESS_DIR)
    for name, data in files.items():
        with open(f"{new}{HARNESS_DIR}/{name}", "wb") as f:
            f.write(data)
    os.makedirs(new + WORKDIR)
    if owner is not None:
        os.chown(new + WORKDIR, owner, owner)
    os.chmod(new + WORKDIR, 0o700)
    _pivot_root(libc, new)
    _mount(libc, None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    return proc
