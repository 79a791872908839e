"""Scripted fakes shared by the eval tests: 4 toy problems, a generator whose samples are right
or wrong by a known pattern, a verifier, and a search function that records what it was given."""

from ponder.eval.grid import Backends
from ponder.eval.grid_config import EvalConfig
from ponder.gen.fake import FakeGenerator
from ponder.steps import parse_response
from ponder.types import Cost, PonderError, Problem, SamplingParams, Score, SearchResult

PROBLEMS = [Problem(id=f"p{i}", task="toy", question=f"q{i}", answer=str(i)) for i in range(4)]


def _script(prompt: str, i: int) -> str:
    """p0 always right; p1 right on even samples, else '9'; p2 right on sample 0, else unparsed; p3 unparsed."""
    q = int(prompt.strip()[1:])
    right = {0: True, 1: i % 2 == 0, 2: i % 4 == 0, 3: False}[q]
    if right:
        return f"<think>ok</think>\n<answer>{q}</answer>"
    return "<think>no</think>\n<answer>9</answer>" if q == 1 else "I give up"


def _verify(problems, responses):
    out = []
    for p, r in zip(problems, responses):
        a = parse_response(r).answer
        out.append(Score(value=float(a == p.answer), parsed=a is not None, extracted=a))
    return out


def _search(strategy, problems, gen, *, budget, scorer, seed, scorer_options=None, **options):
    assert options in ({}, {"width": 2})
    assert all(p.answer is None for p in problems), "strategies must get public problems"
    if strategy == "boom":
        raise RuntimeError("simulated crash")
    texts = [c[0].text for c in gen.generate([gen.render(p.question) for p in problems], _params())]
    return [
        SearchResult(p.id, parse_response(t).answer, t, Cost(generated_tokens=len(t), flops=1.0))
        for p, t in zip(problems, texts)
    ]


def _params():
    return SamplingParams(n=1, temperature=0)


def _backends(gen=None, problems=None):
    gen = gen or FakeGenerator(_script)

    def get_problems(task, cfg):
        if task == "broken":
            raise PonderError("data file for 'broken' is empty")
        return problems or PROBLEMS

    return Backends(make_gen=lambda name: gen, get_problems=get_problems, verify_fn=_verify, search_fn=_search)


def _cfg(tmp_path, **kw):
    base = dict(
        tasks=["toy"],
        strategies=["greedy", "majority", "pass", "boom"],
        budgets=[1, 2, 4],
        n_problems=4,
        out=str(tmp_path / "run"),
    )
    return EvalConfig(**(base | kw))
