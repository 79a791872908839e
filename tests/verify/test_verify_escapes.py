"""Escapes (ponder/verify/audit_escapes.py) are contained, as root and as a normal user: System V
IPC, host Unix/abstract/TCP sockets, files outside the sandbox (the data sets included), signals
at the verifier, nested user namespaces, memory over the whole process tree."""

from __future__ import annotations

import os

from sandbox_helpers import as_normal_user, needs_sandbox

from ponder.verify.audit_escapes import run_escapes

pytestmark = needs_sandbox
DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
NAMES = {"sysv_ipc_left_on_host", "sysv_ipc_shared_between_runs", "host_sockets", "files_outside",
         "signal_the_verifier", "nested_user_namespace", "memory_over_process_tree"}  # fmt: skip


def test_escapes_are_contained():
    results = run_escapes(secret_paths=(os.path.abspath(DATA), "/work/shared/data"))
    assert {r.name for r in results} == NAMES
    assert [(r.name, r.detail) for r in results if not r.contained] == []


def test_escapes_are_contained_as_a_normal_user():
    code = (
        "import json\nfrom ponder.verify.audit_escapes import run_escapes\n"
        "print(json.dumps([[r.name, r.contained, r.detail] for r in run_escapes()]))"
    )
    results = as_normal_user(code)
    assert {name for name, _, _ in results} == NAMES
    assert [(n, d) for n, ok, d in results if not ok] == []
