"""The kernels' thread pool at process exit and oversubscribed (issue 16, session 6 review): a
process whose pool has more workers than the machine has cores gives the one-thread tokens and
exits cleanly right after its last call (workers still spinning). Left out: exiting while a daemon
Python thread is mid-call: that aborts ("terminate called without an active exception") about
half the time with the kernels off too, so it is torch's, not the pool's."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.gen.test_gen_decode_differential import kernel_available, random_model

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = "import json; from tests.gen.test_gen_kernel_exit import tokens; print(json.dumps(tokens()), flush=True)"


def tokens() -> list:
    """Sampled tokens of a fixed random model, prompts and seed."""
    from ponder.gen.hf import HFGenerator
    from ponder.types import SamplingParams

    torch.set_num_threads(1)
    model, tok = random_model(random.Random(11))
    params = SamplingParams(n=4, temperature=0.8, max_tokens=24, seed=3)
    out = HFGenerator.from_model(model, tok).generate(["1+2=" * 30, "7*8=" * 3], params)
    return [[c.token_ids for c in g] for g in out]


@pytest.mark.skipif(not kernel_available(), reason="no compiled kernel here")
def test_more_threads_than_cores_then_exit(monkeypatch):
    many = str(4 * (os.cpu_count() or 1))
    env = dict(os.environ, PONDER_KERNEL_THREADS=many, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    monkeypatch.setenv("PONDER_KERNEL_THREADS", "1")
    assert json.loads(done.stdout.splitlines()[0]) == tokens()
