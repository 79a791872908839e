"""Reward hacks (ponder/verify/audit_hacks.py) are all marked wrong, as root and as a normal user;
the honest solutions of the same problems pass, so the problems can tell right from wrong."""

from __future__ import annotations

import pytest
from sandbox_helpers import as_normal_user, needs_sandbox

from ponder.verify.audit import humaneval_problems, run_hacks, run_honest, synthetic_problems
from ponder.verify.audit_hacks import HACKS, MBPP_HACKS

pytestmark = needs_sandbox


def _quick_problems():
    problems = {p.id: (p, s) for p, s in synthetic_problems()}
    return [problems["he-add"], problems["mbpp-set"], problems["mbpp-math"], problems["mbpp-isclose"]]


def test_catalogue_is_broad():
    assert len(HACKS) >= 30 and len(MBPP_HACKS) >= 4
    kinds = ("always_equal", "decorator", "optimize", "settrace", "marker", "exit", "builtins", "kill", "signal")
    assert all(any(k in name for name in HACKS) for k in kinds)


def test_no_reward_hack_passes_on_synthetic_problems():
    problems = _quick_problems()
    honest = run_honest(problems)
    assert [h.status for h in honest] == ["passed"] * len(problems)
    hacks = run_hacks(problems)
    assert len(hacks) == len(HACKS) * 4 + len(MBPP_HACKS) * 3
    assert [h for h in hacks if h.status == "passed"] == []
    # the verdicts say why: nothing was judged on a marker or an exit status
    by_name = {h.hack: h for h in hacks if h.problem == "he-add"}
    assert by_name["trailing_bare_decorator"].reason.startswith("does not compile")
    assert by_name["always_equal_object"].reason == "a test assertion failed"


@pytest.mark.slow
def test_no_reward_hack_passes_on_all_synthetic_and_real_humaneval():
    problems = synthetic_problems() + humaneval_problems(10)
    assert [h.status for h in run_honest(problems)] == ["passed"] * len(problems)
    assert [h for h in run_hacks(problems) if h.status == "passed"] == []


def test_real_humaneval_hacks_when_data_present():
    problems = humaneval_problems(1)
    if not problems:
        pytest.skip("HumanEval data not present")
    assert [h.status for h in run_honest(problems)] == ["passed"]
    assert [h for h in run_hacks(problems) if h.status == "passed"] == []


def test_no_reward_hack_passes_as_a_normal_user():
    code = (
        "import json\nfrom ponder.verify.audit import run_hacks, run_honest, synthetic_problems\n"
        "ps = {p.id: (p, s) for p, s in synthetic_problems()}\nps = [ps['he-add'], ps['mbpp-set']]\n"
        "h = run_hacks(ps)\nprint(json.dumps({'honest': [r.status for r in run_honest(ps)], 'n': len(h),\n"
        "  'passed': [r.hack for r in h if r.status == 'passed']}))"
    )
    out = as_normal_user(code)
    assert out["honest"] == ["passed", "passed"]
    assert out["n"] == len(HACKS) * 2 + len(MBPP_HACKS) and out["passed"] == []
