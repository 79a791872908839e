"""Compile and load the C++ kernels (decode.cpp: prefill, decode step, token choice) once per machine, or say why not.

The source is plain C++ with AVX-512 intrinsics and no torch headers, so a cold build takes a
couple of seconds (a torch extension would compile its headers for ~a minute); it is loaded with
ctypes and called once per decoding step with pointers to tensors the Python side owns. The
shared object lands in `$PONDER_KERNEL_DIR` or `~/.cache/ponder/kernels`, named by a hash of
the sources, flags and compiler, written atomically so concurrent processes can race safely.
`load()` returns None, logged once with the reason, when `PONDER_NO_KERNELS=1`, the CPU lacks
AVX-512 (F, DQ, BW, VL), there is no C++ compiler, or the build fails; callers then run the
eager torch step. The kernels run on `threads()` threads (pool.h): torch's count, or
`PONDER_KERNEL_THREADS` when set. Left out: ARM/NEON and AVX2-only builds, Windows.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from ponder.types import PonderError

log = logging.getLogger(__name__)

SOURCES = ("decode.cpp", "layers.h", "gemm.h", "pool.h", "vecmath.h")
FLAGS = [
    "-O3",
    "-std=c++17",
    "-mavx512f",
    "-mavx512dq",
    "-mavx512bw",
    "-mavx512vl",
    "-mfma",
    "-fno-math-errno",
    "-pthread",
]
NEEDED_CPU_FLAGS = {"avx512f", "avx512dq", "avx512bw", "avx512vl", "fma"}
_state: dict[str, object] = {}  # "lib": the loaded library or None, once decided


def disabled() -> bool:
    return os.environ.get("PONDER_NO_KERNELS", "").lower() in ("1", "true", "yes", "on")


def threads() -> int:
    """Threads for the kernels' next call: `PONDER_KERNEL_THREADS` if set, else torch's thread count
    (torch's own ops can then stay at one thread while the kernels use more)."""
    value = os.environ.get("PONDER_KERNEL_THREADS", "").strip()
    if not value:
        return torch.get_num_threads()
    if not value.isdigit() or int(value) < 1:
        raise PonderError(f"PONDER_KERNEL_THREADS must be a whole number >= 1, not {value!r}")
    return int(value)


def cpu_reason() -> str | None:
    """Why this CPU cannot run the kernel (None: it can)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return f"CPU architecture {platform.machine()} (the kernel is x86-64 AVX-512)"
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "cannot read /proc/cpuinfo to check for AVX-512"
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    missing = sorted(NEEDED_CPU_FLAGS - set(flags))
    return f"CPU lacks {', '.join(missing)}" if missing else None


def compiler() -> str | None:
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("clang++") or shutil.which("c++")


def cache_dir() -> Path:
    if os.environ.get("PONDER_KERNEL_DIR"):
        return Path(os.environ["PONDER_KERNEL_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ponder" / "kernels"


def library_path(cxx: str) -> Path:
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in SOURCES:
        digest.update((here / name).read_bytes())
    digest.update(" ".join([cxx, *FLAGS]).encode())
    return cache_dir() / f"ponder_decode_{digest.hexdigest()[:16]}.so"


def compile_library(cxx: str, out: Path) -> None:
    """Build decode.cpp into `out` (a temporary name first, then an atomic rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=out.parent)
    os.close(fd)
    cmd = [cxx, *FLAGS, "-shared", "-fPIC", "-o", tmp, str(Path(__file__).parent / "decode.cpp")]
    t0 = time.perf_counter()
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info("compiled the decode kernel in %.1f s: %s", time.perf_counter() - t0, out)


def _open(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    i64, ptr, f32 = ctypes.c_int64, ctypes.c_void_p, ctypes.c_float
    signatures = {
        "ponder_work_floats": (i64, [ptr, i64]),
        "ponder_decode_step": (None, [ptr, ptr, ptr, ptr]),
        "ponder_prefill": (None, [ptr, i64, ptr, ptr, ptr, ptr, i64, ptr, ptr]),
        "ponder_copy_blocks": (None, [ptr, i64, ptr, ptr]),
        "ponder_write_kv": (None, [ptr, i64, i64, ptr, ptr, ptr, ptr, i64]),
        "ponder_gemm": (None, [ptr, i64, i64, ptr, i64, i64, ptr, ptr, i64, i64]),
        "ponder_uniforms": (None, [ptr, i64, i64, i64, ptr]),
        "ponder_sample": (None, [ptr, i64, i64, ptr, ptr, i64, f32, ptr, ptr]),
        "ponder_choose_record": (i64, [ptr, i64, i64, ptr, f32, ptr, ptr, ptr, ptr, i64, i64, ptr, ptr, ptr, ptr, ptr]),
        "ponder_set_threads": (None, [i64]),
        "ponder_threads": (i64, []),
        "ponder_set_grain": (None, [i64]),
        "ponder_pool_workers": (i64, []),
        "ponder_pool_stop": (None, []),
        "ponder_pool_check": (None, [i64]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def _build() -> tuple[ctypes.CDLL | None, str | None]:
    if disabled():
        return None, "PONDER_NO_KERNELS is set"
    reason = cpu_reason()
    cxx = compiler()
    if reason is None and cxx is None:
        reason = "no C++ compiler (set CXX or install g++)"
    if reason is not None:
        return None, reason
    path = library_path(cxx)
    try:
        if not path.is_file():
            compile_library(cxx, path)
        return _open(path), None
    except (OSError, subprocess.SubprocessError) as e:
        detail = getattr(e, "stderr", None) or str(e)
        return None, f"building {path.name} failed: {detail.strip()[-500:]}"


def load() -> ctypes.CDLL | None:
    """The compiled decode step, or None (the reason logged once per process and switch state)."""
    key = "off" if disabled() else "on"
    if key not in _state:
        lib, reason = _build()
        if reason is not None:
            level = logging.INFO if key == "off" else logging.WARNING
            log.log(level, "decode kernel not used, eager torch step instead: %s", reason)
        _state[key] = lib
    return _state[key]  # type: ignore[return-value]
