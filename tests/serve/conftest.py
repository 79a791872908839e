"""Servers for the serve tests: the tiny reasoner on a free loopback port (one per module), and
slow or failing fakes for the limit tests. Every server is stopped when its test ends."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("openai")

from serve_consts import ANSWER, KEY, LIMITS  # noqa: E402

from ponder.gen.fake import FakeGenerator  # noqa: E402
from ponder.serve.engine import ServeEngine  # noqa: E402
from ponder.serve.schema import Limits  # noqa: E402
from ponder.serve.testing import serve_in_thread  # noqa: E402
from ponder.serve.tokens import CharTokens  # noqa: E402


@pytest.fixture(scope="module")
def tiny_engine():
    import torch

    from ponder.gen import load_generator

    torch.set_num_threads(1)
    # tiny-v2's weights served as "tiny": these tests pin the server's behaviour on a fixed model (v3 is
    # sure enough of the test sum that n=3 samples at T=1 all agree)
    engine = ServeEngine(load_generator("tiny-v2"), "tiny")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def tiny_url(tiny_engine):
    with serve_in_thread(tiny_engine, LIMITS, api_key=KEY) as url:
        yield url


@pytest.fixture
def client(tiny_url):
    import openai

    return openai.OpenAI(base_url=tiny_url, api_key=KEY, max_retries=0, timeout=120)


class SlowFake(FakeGenerator):
    """Answers ANSWER after `delay` seconds per call; a prompt containing 'boom' raises."""

    def __init__(self, delay: float):
        super().__init__(lambda prompt, i: ANSWER)
        self.delay = delay
        self.started = 0  # calls begun (`calls` records them when they end)

    def generate(self, prompts, params):
        if any("boom" in p for p in prompts):
            raise RuntimeError("the model blew up")
        self.started += 1
        time.sleep(self.delay)
        return super().generate(prompts, params)


@pytest.fixture
def slow_server():
    """A server over SlowFake with one slot and no queue; yields (url, engine)."""

    def start(delay: float = 1.0, **limits):
        engine = ServeEngine(SlowFake(delay), "fake", tokens=CharTokens(), wait_ms=1)
        ctx = serve_in_thread(engine, Limits(**{"max_concurrent": 1, "max_queue": 0, **limits}))
        started.append((ctx, engine))
        return ctx.__enter__(), engine

    started: list = []
    yield start
    for ctx, engine in started:
        ctx.__exit__(None, None, None)
        engine.close()
