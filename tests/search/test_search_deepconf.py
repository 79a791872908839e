"""DeepConf: golden numbers for its pure parts, offline filtering, online early termination with
every token counted, and the stop at consensus."""

from __future__ import annotations

import pytest
from search_fakes import BAD, GOOD, arithmetic_problem, scripted

from ponder.search import run_search
from ponder.search.strategies.deepconf import consensus, threshold_of, trace_confidence, vote_weight
from ponder.types import PonderError, Step


def test_threshold_consensus_and_confidence_golden():
    confs = [0.1, 0.5, 0.3, 0.9]
    assert threshold_of(confs, 0.5) == 0.5  # the top half is 0.9, 0.5
    assert threshold_of(confs, 0.9) == 0.1  # ceil(3.6) = 4 kept
    assert threshold_of(confs, 0.1) == 0.9
    assert consensus(["a", "a", "b", None], [1.0, 2.0, 1.0, 5.0]) == 0.75
    assert consensus([None], [1.0]) == 0.0
    step = Step("abcde", [-1.0, -1.0, -3.0, -3.0, -1.0], certainties=[2.0, 4.0, 1.0, 1.0, 5.0])
    assert trace_confidence(step, "logprob", 2) == -3.0
    assert trace_confidence(step, "certainty", 3) == pytest.approx(2.0)  # (4+1+1)/3
    assert vote_weight(-3.0, "logprob") == pytest.approx(0.049787, abs=1e-6) and vote_weight(2.0, "certainty") == 2.0
    with pytest.raises(PonderError, match="per-token"):
        trace_confidence(Step("x", [-0.1]), "certainty", 2)


class ShakyOnSix:
    """A scripted fake whose token logprob is -3 on every '6' (only BAD has one) and -0.1 elsewhere."""

    def __init__(self, gen):
        self.gen, self.name, self.n_params = gen, gen.name, gen.n_params

    def render(self, q):
        return self.gen.render(q)

    def generate(self, prompts, params):
        out = self.gen.generate(prompts, params)
        for c in (c for g in out for c in g):
            c.logprobs = [-3.0 if ch == "6" else -0.1 for ch in c.text]
        return out


def test_offline_keeps_the_confident_traces():
    problems = [arithmetic_problem(f"p{i}") for i in range(2)]
    # seed 77 draws four of each and an unweighted vote says 24 (see test_search_selectors)
    results = run_search(
        "deepconf", problems, ShakyOnSix(scripted([BAD, GOOD])), budget=8, seed=77, mode="offline", keep=0.5, window=4
    )
    assert [r.answer for r in results] == ["20", "20"]
    assert all(r.meta["voters"] == 4 and r.meta["threshold"] == pytest.approx(-0.1) for r in results)
    assert all(r.cost.generated_tokens == 4 * (len(BAD) + len(GOOD)) for r in results)


def test_online_terminates_shaky_traces_and_counts_their_tokens():
    problems = [arithmetic_problem(f"p{i}") for i in range(2)]
    gen = ShakyOnSix(scripted([BAD, GOOD]))
    results = run_search(
        "deepconf",
        problems,
        gen,
        budget=8,
        seed=2189,
        keep=0.5,
        window=4,
        warmup=2,
        wave=2,
        chunk=4,
        consensus_stop=1.01,
    )
    for r in results:
        assert r.answer == "20"
        cut = [n for n in r.tree if n.meta.get("terminated")]
        assert cut, "a later BAD trace should be cut off"
        assert all(n.meta["tokens"] < len(BAD) for n in cut)
        # every generated token is charged: the warm-up samples plus every chunk node
        warm = sum(n.meta["tokens"] for n in r.tree[1:] if n.parent == 0 and n.terminal and "logprob" not in n.meta)
        chunks = sum(len(n.text) for n in r.tree[1:] if "logprob" in n.meta)
        assert r.cost.generated_tokens == warm + chunks < 8 * len(BAD)
        # by hand, for seed 2189 (searched for: per-problem draws): two warm-up traces (51 tokens each) set the threshold at -0.1; the
        # six later traces are BAD and die at their first window with a '6', "+3=6", token 12
        assert len(cut) == 6 and r.cost.generated_tokens == 2 * 51 + 6 * 12


def test_online_stops_at_consensus():
    problems = [arithmetic_problem(f"p{i}") for i in range(3)]
    results = run_search("deepconf", problems, ShakyOnSix(scripted([GOOD])), budget=16, seed=0)
    # warm-up max(2, 16 // 4) = 4 traces agree: nothing more is drawn
    assert all(r.answer == "20" and r.cost.generated_tokens == 4 * len(GOOD) for r in results)
