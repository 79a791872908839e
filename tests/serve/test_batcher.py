"""The batcher merges concurrent calls with equal params (seeded ones keeping each prompt's seed),
keeps others apart, and survives errors."""

from __future__ import annotations

import threading
import time

import pytest

from ponder.gen.fake import FakeGenerator
from ponder.serve.batcher import BatchingGenerator
from ponder.types import PonderError, SamplingParams


def _echo(prompt: str, i: int) -> str:
    if prompt == "boom":
        raise RuntimeError("model failed")
    return f"{prompt}:{i}"


def _parallel(b: BatchingGenerator, jobs: list[tuple[list[str], SamplingParams]]) -> list:
    out: list = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def run(k: int) -> None:
        with b.session():
            barrier.wait()
            try:
                out[k] = b.generate(*jobs[k])
            except RuntimeError as e:
                out[k] = e

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return out


def test_concurrent_calls_with_equal_params_share_one_call():
    fake = FakeGenerator(_echo)
    b = BatchingGenerator(fake, wait_ms=5000)
    p = SamplingParams(n=2, max_tokens=20)
    t0 = time.monotonic()
    out = _parallel(b, [([f"q{k}"], p) for k in range(8)])
    b.close()
    for k, groups in enumerate(out):
        assert [c.text for c in groups[0]] == [f"q{k}:0", f"q{k}:1"]  # each caller gets its own slice
    assert len(fake.calls) == 1 and b.prompts == 8  # the worker waited for all 8 open sessions
    assert time.monotonic() - t0 < 4  # ...and no longer: it did not sit out the 5 s window


def test_a_lone_call_does_not_wait_for_the_window():
    b = BatchingGenerator(FakeGenerator(_echo), wait_ms=5000)
    t0 = time.monotonic()
    with b.session():
        assert b.generate(["a"], SamplingParams())[0][0].text == "a:0"
    assert time.monotonic() - t0 < 2
    b.close()


def test_different_params_are_separate_calls_and_one_prompt_mode_never_merges():
    fake = FakeGenerator(_echo)
    b = BatchingGenerator(fake, wait_ms=200)
    out = _parallel(b, [(["a"], SamplingParams(max_tokens=5)), (["b"], SamplingParams(max_tokens=6))])
    b.close()
    assert out[0][0][0].text == "a:0" and out[1][0][0].text == "b:0"
    assert all(len(prompts) == 1 for prompts, _ in fake.calls)
    fake2 = FakeGenerator(_echo)
    b2 = BatchingGenerator(fake2, wait_ms=200, max_prompts=1)
    _parallel(b2, [([f"q{k}"], SamplingParams()) for k in range(4)])
    b2.close()
    assert len(fake2.calls) == 4


def test_seeded_calls_merge_each_prompt_keeping_its_seed():
    fake = FakeGenerator(_echo)
    b = BatchingGenerator(fake, wait_ms=5000)
    seeded, greedy, plain = SamplingParams(seed=7), SamplingParams(seed=7, temperature=0.0), SamplingParams()
    listed = SamplingParams(seed=(5, 6))
    out = _parallel(b, [(["s1"], seeded), (["s2", "s3"], seeded), (["g1"], greedy), (["g2"], greedy), (["p1"], plain),
                        (["l1", "l2"], listed)])  # fmt: skip
    b.close()
    assert [[g[0].text for g in o] for o in out] == [["s1:0"], ["s2:0", "s3:0"], ["g1:0"], ["g2:0"], ["p1:0"],
                                                     ["l1:0", "l2:0"]]  # fmt: skip
    calls = {tuple(sorted(prompts)): params for prompts, params in fake.calls}
    assert sorted(calls) == [("g1", "g2"), ("l1", "l2", "p1", "s1", "s2", "s3")]  # one sampled call, one greedy
    assert calls[("g1", "g2")].seed is None
    prompts, params = next((p, q) for p, q in fake.calls if "s1" in p)
    seed_of = dict(zip(prompts, params.seed))
    assert seed_of["s1"] == seeded.prompt_seeds(1)[0]  # each call's own prompt seeds ...
    assert (seed_of["s2"], seed_of["s3"]) == seeded.prompt_seeds(2)
    assert (seed_of["l1"], seed_of["l2"]) == (5, 6)
    assert isinstance(seed_of["p1"], int)  # ... and fresh ones for the unseeded call


def test_a_seed_list_of_the_wrong_length_fails_its_caller():
    b = BatchingGenerator(FakeGenerator(_echo), wait_ms=1)
    with pytest.raises(PonderError, match="1 seeds for 2 prompts"):
        b.generate(["a", "b"], SamplingParams(seed=(3,)))
    assert b.generate(["ok"], SamplingParams(seed=(3,)))[0][0].text == "ok:0"
    b.close()


def test_a_failing_call_fails_its_callers_only():
    b = BatchingGenerator(FakeGenerator(_echo), wait_ms=1)
    with pytest.raises(RuntimeError, match="model failed"):
        b.generate(["boom"], SamplingParams())
    assert b.generate(["ok"], SamplingParams())[0][0].text == "ok:0"
    assert b.run(lambda: 41 + 1) == 42
    b.close()
