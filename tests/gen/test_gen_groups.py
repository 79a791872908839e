"""sample_groups / Groups: n per problem in one call, flat views, and unflatten back to groups."""

import pytest

from ponder.gen.fake import FakeGenerator
from ponder.gen.groups import Groups, sample_groups
from ponder.types import Completion, Problem, SamplingParams


def test_sample_groups_one_call_flat_views_and_unflatten():
    calls = []
    gen = FakeGenerator(lambda prompt, i: f"{prompt}-{i}")
    inner = gen.generate
    gen.generate = lambda prompts, params: (calls.append(len(prompts)), inner(prompts, params))[1]
    problems = [Problem(id=f"p{i}", task="t", question=f"q{i}") for i in range(3)]
    g = sample_groups(gen, problems, SamplingParams(n=2))
    assert calls == [3] and [len(x) for x in g.outputs] == [2, 2, 2]
    assert [p.id for p in g.flat_owners] == ["p0", "p0", "p1", "p1", "p2", "p2"]
    assert g.flat_index == [0, 0, 1, 1, 2, 2] and len(g.texts) == 6
    assert g.unflatten([1, 2, 3, 4, 5, 6]) == [[1, 2], [3, 4], [5, 6]]


def test_unflatten_follows_group_sizes_and_rejects_a_wrong_length():
    g = Groups(["a", "b"], [[Completion("x")], [Completion("y"), Completion("z")]])
    assert g.unflatten([1, 2, 3]) == [[1], [2, 3]]
    with pytest.raises(ValueError, match="2 values for 3"):
        g.unflatten([1, 2])
