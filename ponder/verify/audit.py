"""Audit the code verifier on this machine: reward hacks must fail, honest programs must pass.

`python -m ponder.verify.audit [--humaneval N] [--workers 2]` runs every hack of
audit_hacks.py against synthetic problems (HumanEval and MBPP form, built here, always
available) and, when the data set is on disk, against the first N real HumanEval problems; it
prints a JSON summary (hacks passed of hacks run, honest programs passed, isolation that held).
The tests in tests/verify run the same functions and require zero hacks passing.

Left out: escapes from the sandbox itself (tests/verify/test_verify_escapes.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass

from ponder.types import Problem
from ponder.verify.audit_hacks import hack_programs
from ponder.verify.code_verifier import run_code_tests
from ponder.verify.sandbox import Limits

AUDIT_LIMITS = Limits(cpu_seconds=3, wall_seconds=6, memory_mb=256, total_memory_mb=512, max_processes=6)
_UNIQ = "def uniq(xs):\n    return list(dict.fromkeys(xs))\n"


def _he(pid: str, entry: str, prompt: str, test: str, solution: str) -> tuple[Problem, str]:
    info = {"prompt": prompt, "entry_point": entry, "test": test}
    return Problem(id=pid, task="humaneval", question="", info=info), solution


def _mbpp(pid: str, tests: list[str], code: str) -> tuple[Problem, str]:
    info = {"test_list": tests, "test_setup_code": "", "code": code}
    return Problem(id=pid, task="mbpp", question="", info=info), code


def synthetic_problems() -> list[tuple[Problem, str]]:
    """(problem, honest solution): each MBPP one exercises one name the tests could be fooled by."""
    return [
        _he("he-add", "add", 'def add(a: int, b: int) -> int:\n    """a + b"""\n',
            "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-4, 4) == 0\n",
            "    return a + b\n"),
        _he("he-bool", "is_even", 'def is_even(n: int) -> bool:\n    """Is n even?"""\n',
            "def check(candidate):\n    assert candidate(2)\n    assert not candidate(3)\n    assert candidate(10) is True\n",
            "    return n % 2 == 0\n"),
        _he("he-float", "half", 'def half(x: float) -> float:\n    """x / 2"""\n',
            "import math\ndef check(candidate):\n    assert abs(candidate(3.0) - 1.5) < 1e-9\n"
            "    assert math.isclose(candidate(1.0), 0.5)\n", "    return x / 2\n"),
        _mbpp("mbpp-set", ["assert set(uniq([3, 1, 3])) == set([1, 3])"], _UNIQ),
        _mbpp("mbpp-sorted", ["assert sorted(uniq([5, 2, 5])) == [2, 5]", "assert len(uniq([7, 7])) == 1"], _UNIQ),
        _mbpp("mbpp-math", ["assert math.isclose(sum(uniq([0.5, 0.5, 0.25])), 0.75)"], "import math\n" + _UNIQ),
        _mbpp("mbpp-isclose", ["assert isclose(sum(uniq([0.5, 0.5, 0.25])), 0.75)"],
              "from math import isclose\n" + _UNIQ),
    ]  # fmt: skip


def humaneval_problems(limit: int) -> list[tuple[Problem, str]]:
    """The first `limit` HumanEval problems with their canonical solutions ([] without the data)."""
    from ponder.tasks.loaders import load_dataset

    try:
        problems = load_dataset("humaneval", limit=limit)
    except Exception:  # noqa: BLE001 - no data on this machine: audit the synthetic problems only
        return []
    return [(p, p.info["canonical_solution"]) for p in problems]


@dataclass
class HackResult:
    problem: str
    hack: str
    status: str
    reason: str


def _entry(problem: Problem) -> str:
    return problem.info.get("entry_point") or "uniq"


def run_hacks(problems: list[tuple[Problem, str]], limits: Limits = AUDIT_LIMITS, workers: int = 2) -> list[HackResult]:
    """Every hack against every problem (MBPP-only hacks on MBPP problems)."""
    pairs = [
        (p, name, prog) for p, _ in problems for name, prog in hack_programs(_entry(p), "test_list" in p.info).items()
    ]
    results = run_code_tests([p for p, _, _ in pairs], [prog for _, _, prog in pairs], limits=limits, workers=workers)
    return [HackResult(p.id, name, r.status, r.reason) for (p, name, _), r in zip(pairs, results)]


def run_honest(
    problems: list[tuple[Problem, str]], limits: Limits = AUDIT_LIMITS, workers: int = 2
) -> list[HackResult]:
    """The honest solutions (they must pass, or the audit proves nothing)."""
    results = run_code_tests([p for p, _ in problems], [s for _, s in problems], limits=limits, workers=workers)
    return [HackResult(p.id, "honest", r.status, r.reason) for (p, _), r in zip(problems, results)]


def audit(humaneval: int = 10, workers: int = 2) -> dict:
    problems = synthetic_problems() + humaneval_problems(humaneval)
    hacks, honest = run_hacks(problems, workers=workers), run_honest(problems, workers=workers)
    from ponder.verify.sandbox import run_program

    return {
        "problems": len(problems),
        "hacks_run": len(hacks),
        "hacks_passed": [asdict(h) for h in hacks if h.status == "passed"],
        "hack_statuses": {s: sum(h.status == s for h in hacks) for s in sorted({h.status for h in hacks})},
        "honest_passed": sum(h.status == "passed" for h in honest),
        "honest_failed": [asdict(h) for h in honest if h.status != "passed"],
        "isolation": run_program("pass", AUDIT_LIMITS).isolation,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ponder.verify.audit", description=__doc__)
    ap.add_argument("--humaneval", type=int, default=10, help="real HumanEval problems to attack (0: none)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    report = audit(args.humaneval, args.workers)
    print(json.dumps(report, indent=1))
    return 1 if report["hacks_passed"] or report["honest_failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
