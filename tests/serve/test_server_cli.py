"""`ponder serve` as a user starts it: a subprocess on a free loopback port, bounded and stopped."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ponder.serve.testing import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # a fresh interpreter loading torch + transformers: 10-30 s on 2 shared cores
def test_ponder_serve_command_serves_and_enforces_its_flags():
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "ponder.cli", "serve", "--port", str(port), "--api-key", "k", "--max-n", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "ponder serve did not come up"
            time.sleep(0.2)
        body = {"model": "tiny", "messages": [{"role": "user", "content": "12+7=?"}], "n": 3}
        auth = {"Authorization": "Bearer k"}
        assert httpx.post(base + "/v1/chat/completions", json=body, timeout=30).status_code == 401
        r = httpx.post(base + "/v1/chat/completions", json=body, headers=auth, timeout=30)
        assert r.status_code == 400 and r.json()["error"]["param"] == "n"  # --max-n 2
        r = httpx.post(base + "/v1/chat/completions", json={**body, "n": 2}, headers=auth, timeout=60)
        assert r.status_code == 200 and len(r.json()["choices"]) == 2
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
