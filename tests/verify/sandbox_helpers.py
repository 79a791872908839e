"""Shared by the sandbox tests: skip reasons, and running a snippet as an unprivileged user."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ponder.types import PonderError

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


def sandbox_unavailable() -> str:
    """Why the sandbox cannot run here ("" when it can)."""
    from ponder.verify.sandbox import sandbox_mode

    try:
        sandbox_mode()
    except PonderError as e:
        return str(e)
    return ""


needs_sandbox = pytest.mark.skipif(bool(sandbox_unavailable()), reason=sandbox_unavailable() or "sandbox works")


def as_normal_user(code: str, timeout: float = 300) -> object:
    """Run `code` (which prints one JSON value last) as uid 65534 with the system Python and this
    repository on its path; skip when that is impossible here (not root, no setpriv, no access)."""
    if os.geteuid() != 0:
        pytest.skip("dropping to an unprivileged user needs root (this run is already unprivileged)")
    setpriv, python = shutil.which("setpriv"), "/usr/bin/python3"
    if not setpriv or not os.path.exists(python):
        pytest.skip("needs setpriv and /usr/bin/python3 to run as an unprivileged user")
    cmd = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "env", f"PYTHONPATH={REPO}",
           "HOME=/tmp", python, "-c", code]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd="/tmp")
    if "PermissionError" in proc.stderr or "No module named 'ponder'" in proc.stderr:
        pytest.skip(f"the repository is not readable by uid {NOBODY}: {proc.stderr.strip()[-200:]}")
    if "needs root or unprivileged user namespaces" in proc.stderr:
        pytest.skip("unprivileged user namespaces are disabled on this machine")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
