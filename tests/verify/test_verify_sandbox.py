"""Hostile programs are contained and reported; the machine and the caller stay healthy.

Limits are tiny (a few processes, 128 MB, 1-2 s) so that a containment bug cannot hurt a shared
machine. Needs root (uid switch, namespaces); skipped otherwise.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from ponder.verify.code_verifier import classify
from ponder.verify.sandbox import Limits, run_many, run_program

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="these tests switch uids and read other uids' processes: root only"
)

TINY = Limits(cpu_seconds=2, wall_seconds=4, memory_mb=128, max_processes=4, max_output_bytes=1 << 16, tmpfs_mb=8)


def _uids_alive(uid: int) -> int:
    out = subprocess.run(["ps", "-eo", "uid="], capture_output=True, text=True, check=True).stdout
    return sum(1 for line in out.split() if line.strip() == str(uid))


def test_plain_program_runs_isolated():
    prog = "import os\nprint(os.getuid(), os.getcwd(), sum(p.isdigit() for p in os.listdir('/proc')))"
    res = run_program(prog, TINY)
    assert res.exit_code == 0
    uid, cwd, n_visible = res.stdout.split()
    assert int(uid) != 0 and res.isolation["uid"] == int(uid)
    assert res.isolation["network"] and res.isolation["mount"] and res.isolation["ipc"]
    if res.isolation["private_proc"]:
        assert n_visible == "1"  # only itself: no other process of the machine is visible


def test_infinite_loop_times_out():
    start = time.monotonic()
    res = run_program("while True:\n    pass", TINY)
    assert time.monotonic() - start < TINY.wall_seconds + 10
    assert classify(res, TINY).status == "timeout"


def test_sleeping_program_hits_wall_clock():
    res = run_program("import time\ntime.sleep(60)", Limits(wall_seconds=1, cpu_seconds=1))
    assert res.timed_out and classify(res, Limits(wall_seconds=1)).status == "timeout"


def test_fork_bomb_is_capped_and_cleaned_up():
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    start = time.monotonic()
    res = run_program(bomb, TINY)
    assert time.monotonic() - start < TINY.wall_seconds + 10
    assert classify(res, TINY).status in ("timeout", "error")
    assert _uids_alive(res.isolation["uid"]) == 0


def test_escaped_session_is_killed():
    prog = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\nprint('parent done')"
    res = run_program(prog, TINY)
    assert res.exit_code == 0
    time.sleep(0.2)
    assert _uids_alive(res.isolation["uid"]) == 0


def test_memory_bomb_is_stopped():
    res = run_program("x = bytearray(1 << 30)\nprint('allocated')", TINY)
    verdict = classify(res, TINY)
    assert "allocated" not in res.stdout
    assert verdict.status == "error" and "memory" in verdict.reason


def test_forking_memory_bomb_stays_under_limits():
    prog = "import os\nfor _ in range(8):\n    try:\n        os.fork()\n    except OSError:\n        pass\nx = bytearray(1 << 30)"
    res = run_program(prog, TINY)
    assert classify(res, TINY).status != "passed"


def test_huge_output_is_capped():
    res = run_program("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", TINY)
    assert res.output_truncated
    assert len(res.stdout.encode()) <= TINY.max_output_bytes
    assert classify(res, TINY).status in ("error", "timeout")


def test_files_outside_the_sandbox_are_untouched(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    prog = (
        "import os, shutil\n"
        f"for action in (lambda: os.remove({str(victim)!r}), lambda: open({str(victim)!r}, 'w').write('x'),\n"
        f"               lambda: open({str(tmp_path / 'new.txt')!r}, 'w').write('x'),\n"
        "               lambda: open('/tmp/ponder-sandbox-escape', 'w').write('x'),\n"
        "               lambda: shutil.rmtree('/work', ignore_errors=False)):\n"
        "    try:\n        action()\n        print('did it')\n    except OSError:\n        print('denied')\n"
    )
    res = run_program(prog, TINY)
    assert victim.read_text() == "keep" and not (tmp_path / "new.txt").exists()
    assert not os.path.exists("/tmp/ponder-sandbox-escape")
    # the write to /tmp succeeds, but into the sandbox's private tmpfs
    assert res.stdout.splitlines() == ["denied", "denied", "denied", "did it", "denied"]


def test_network_is_unreachable():
    prog = "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=1)\n    print('connected')\nexcept OSError as e:\n    print('blocked', e.errno)"
    res = run_program(prog, TINY)
    assert res.isolation["network"] and res.stdout.startswith("blocked")


def test_cannot_kill_parent_or_see_its_environment(monkeypatch):
    monkeypatch.setenv("PONDER_TEST_SECRET", "s3cret")
    prog = (
        "import os, signal\nprint(sorted(os.environ))\n"
        f"for pid in (os.getppid(), {os.getpid()}, 1):\n"
        "    try:\n        os.kill(pid, signal.SIGKILL) if pid else None\n    except OSError:\n        pass\n"
        f"try:\n    print(open('/proc/{os.getpid()}/environ').read())\nexcept OSError:\n    print('no environ')\n"
    )
    res = run_program(prog, TINY)
    assert "s3cret" not in res.stdout and "PONDER_TEST_SECRET" not in res.stdout
    assert "no environ" in res.stdout  # and we are still alive to assert it


def test_temporary_directories_are_removed(tmp_path, monkeypatch):
    """In a private temp folder, so other processes' sandboxes on the machine cannot race it."""
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    assert tempfile.gettempdir() == str(tmp_path)
    run_many(["print(1)", "open('junk', 'w').write('x' * 1000)"], TINY, workers=2)
    assert tempfile.gettempdir() == str(tmp_path)
    assert [p for p in os.listdir(tmp_path) if p.startswith("ponder-sbx-")] == []


def test_run_many_keeps_order_in_parallel():
    res = run_many([f"print({i})" for i in range(6)], TINY, workers=3)
    assert [r.stdout.strip() for r in res] == [str(i) for i in range(6)]


def test_program_cannot_write_the_launcher_status():
    prog = "import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'{\"exit_code\": 0}')\n        print('wrote', fd)\n    except OSError:\n        pass\nraise SystemExit(3)"
    res = run_program(prog, TINY)
    assert res.exit_code == 3 and "wrote" not in res.stdout


def test_without_namespaces_the_uid_still_contains_the_program(tmp_path):
    """The fallback when a platform allows no namespaces: limits, uid and the sweep still hold."""
    bare = Limits(**{**TINY.__dict__, "namespaces": ()})
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    prog = (
        "import os, time\n"
        f"try:\n    os.remove({str(victim)!r})\nexcept OSError:\n    print('denied')\n"
        "if os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n"
        "print(os.getcwd().startswith('/tmp/work'))\n"
    )
    res = run_program(prog, bare)
    assert res.exit_code == 0 and res.stdout.split() == ["denied", "False"]
    held = {k for k in ("userns", "network", "ipc", "mount", "pid", "private_proc") if res.isolation[k]}
    assert held == set()
    assert victim.read_text() == "keep"
    time.sleep(0.2)
    assert _uids_alive(res.isolation["uid"]) == 0  # the setsid child was swept
    bomb = run_program("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", bare)
    assert bomb.timed_out or bomb.signal
    time.sleep(0.2)
    assert _uids_alive(bomb.isolation["uid"]) == 0
