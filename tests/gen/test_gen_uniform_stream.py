"""UniformStream (gen/sampling.py): bulk draws equal one torch.rand per step, and the generator
ends where per-step draws leave it."""

import ctypes

import torch

from ponder.gen.sampling import UniformStream


def _read(address: int, n: int) -> list[float]:
    return list((ctypes.c_float * n).from_address(address))


def test_stream_gives_the_per_step_draws_and_rewinds():
    sizes = [16, 16, 11, 7, 7, 3, 1, 1500, 900, 5]  # crosses the chunk boundary twice
    g = torch.Generator().manual_seed(3)
    per_step = [torch.rand(n, generator=g).tolist() for n in sizes]
    after = torch.rand(4, generator=g)

    g = torch.Generator().manual_seed(3)
    stream = UniformStream(g, chunk=1024)
    got = [_read(stream.take(n), n) for n in sizes]
    stream.close()
    assert got == per_step
    assert torch.equal(torch.rand(4, generator=g), after)


def test_an_unused_stream_leaves_the_generator_untouched():
    g = torch.Generator().manual_seed(5)
    expected = torch.rand(8, generator=torch.Generator().manual_seed(5))
    UniformStream(g).close()
    assert torch.equal(torch.rand(8, generator=g), expected)
