"""The code verifier: run a model-written Python program against tests, in the sandbox.

Tests come in HumanEval form (`info["test"]` defines `check(candidate)`, `info["entry_point"]`
names the function; the response may be a whole program or a completion of `info["prompt"]`) or
MBPP form (`info["test_list"]` of assert lines, optional `info["test_setup_code"]`). The code is
taken from the `<answer>` tag when present, else from the fenced ```python block that defines the
entry point (else the last fenced block), else the whole response.

The program is compiled and run on its own first (harness_runner.py, in the sandbox); the tests
run in a separate judge process (harness_judge.py) that calls into the program and receives only
plain data, so no overloaded `==`, printed marker, exit code, `-O` re-exec, trace function or
patched builtin of the program can make it pass: only the judge's verdict, on a pipe the program
does not hold, can. Statuses: passed / failed (the tests ran and one failed or raised) / timeout / error (the program
could not be run to a verdict: it does not compile, hit the memory or output limit, was killed).
"""

from __future__ import annotations

import ast
import re
import signal
from dataclasses import dataclass

from ponder.answers import extract_code
from ponder.types import Problem, Score
from ponder.verify import VERIFIERS
from ponder.verify.sandbox import Limits, SandboxResult, run_jobs

_IMPORT_RE = re.compile(r"^(?:import|from)\s+\S.*$", re.MULTILINE)
EXCERPT_CHARS = 300
UNPARSED = ("empty response", "response is not valid text (cannot be encoded as UTF-8)")


@dataclass
class CodeResult:
    status: str  # passed | failed | timeout | error
    reason: str
    stderr_excerpt: str = ""
    isolation: dict | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def build_job(problem: Problem, response: str) -> tuple[str, dict] | None:
    """The candidate program (alone: no tests, no marker) and the test spec the judge runs, or
    None if the problem has no tests."""
    info = problem.info
    if info.get("test") and info.get("entry_point"):
        entry = info["entry_point"]
        code = extract_code(response, entry)
        prompt = info.get("prompt", "")
        if _defines(code, entry):
            program = "\n".join(_IMPORT_RE.findall(prompt)) + "\n" + code
        else:
            program = prompt + code
        return program + "\n", {"form": "humaneval", "prompt": prompt, "test": info["test"], "entry_point": entry}
    if info.get("test_list"):
        # MBPP's setup code may use the solution's own classes (tasks 367, 927): the judge runs it
        # with the solution's names bound to proxies into the candidate's process.
        spec = {"form": "mbpp", "test_list": list(info["test_list"]), "setup": info.get("test_setup_code") or "",
                "shadows": reference_names(info)}  # fmt: skip
        return extract_code(response) + "\n", spec
    return None


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


def reference_names(info: dict) -> list[str]:
    """Names the problem itself defines (its reference solution's top-level functions and
    classes, and `entry_point`): the only names a candidate may take over from the built-ins."""
    names = [info["entry_point"]] if isinstance(info.get("entry_point"), str) else []
    try:
        tree = ast.parse(info.get("code") or "")
    except (SyntaxError, ValueError):
        return names
    return names + [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]


def classify(res: SandboxResult, limits: Limits) -> CodeResult:
    """Turn a sandbox run into a verdict with a short reason (saying so if the network was reachable)."""
    result = _verdict(res, limits)
    if res.isolation and not res.isolation.get("network"):
        result.reason += " [no network namespace: the program could reach the network]"
    return result


def _verdict(res: SandboxResult, limits: Limits) -> CodeResult:
    """Only the judge's verdict can pass a program; the rest explains why it did not."""
    excerpt, iso = res.stderr[-EXCERPT_CHARS:], res.isolation
    verdict = res.verdict if isinstance(res.verdict, dict) else {}
    if verdict.get("status") == "passed" and not res.timed_out:
        return CodeResult("passed", "all tests passed", excerpt, iso)
    # PID-namespace init ignores SIGXCPU, so a CPU overrun can also show as SIGKILL at the hard limit.
    cpu_killed = res.signal == signal.SIGXCPU or (
        res.signal == signal.SIGKILL and res.cpu_seconds >= 0.9 * limits.cpu_seconds
    )
    if res.timed_out:
        return CodeResult("timeout", f"wall-clock limit of {limits.wall_seconds:g}s", excerpt, iso)
    if cpu_killed:
        return CodeResult("timeout", f"CPU-time limit of {limits.cpu_seconds}s", excerpt, iso)
    if res.memory_capped or verdict.get("reason") == "MemoryError" or "MemoryError" in _last_line(res.stderr):
        return CodeResult(
            "error",
            f"memory limit ({limits.memory_mb} MB per process, {limits.total_memory_mb} MB in all)",
            excerpt,
            iso,
        )
    if res.output_truncated:
        return CodeResult("error", f"output limit of {limits.max_output_bytes} bytes exceeded", excerpt, iso)
    if verdict.get("status") in ("failed", "error"):
        return CodeResult(verdict["status"], str(verdict.get("reason", ""))[:300], excerpt, iso)
    if res.signal:
        return CodeResult("error", f"killed by {signal.Signals(res.signal).name}", excerpt, iso)
    return CodeResult("error", _last_line(res.stderr) or "the sandbox gave no verdict", excerpt, iso)


def _unencodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def run_code_tests(
    problems: list[Problem], responses: list[str], limits: Limits | None = None, workers: int = 2
) -> list[CodeResult]:
    """Run each response against its problem's tests; `workers` programs at a time. Exactly one
    result per response."""
    limits = limits or Limits()
    out: list[CodeResult | None] = []
    todo: list[int] = []
    jobs: list[tuple[str, dict]] = []
    for i, (problem, response) in enumerate(zip(problems, responses)):
        response = response if isinstance(response, str) else ""
        reason = _early_reason(response)
        job = None if reason else build_job(problem, response)
        out.append(None if job else CodeResult("error", reason or "no tests in problem.info"))
        if job:
            todo.append(i)
            jobs.append(job)
    for i, res in zip(todo, run_jobs(jobs, limits=limits, workers=workers)):
        out[i] = classify(res, limits)
    assert len(out) == len(problems) and all(r is not None for r in out), "one result per response"
    return out  # type: ignore[return-value]


def _early_reason(response: str) -> str:
    """Why a response cannot even be run ("" when it can)."""
    if not response.strip():
        return "empty response"
    if _unencodable(response):
        return "response is not valid text (cannot be encoded as UTF-8)"
    return ""


# Appended to a solution, it wraps the entry point so that every return value changes.
_BREAK = """
_ponder_original = {name}
def {name}(*args, **kwargs):
    r = _ponder_original(*args, **kwargs)
    if isinstance(r, bool):
        return not r
    if isinstance(r, (int, float)):
        return r + 1
    if isinstance(r, str):
        return r + "x"
    if isinstance(r, (list, tuple)):
        return type(r)(list(r) + [None])
    return "broken"
"""


def broken_variant(solution: str, entry_point: str, prompt: str = "") -> str:
    """A plausible but wrong whole program: `prompt + solution` with every return value of the
    entry point changed, for checking that a problem's tests reject a wrong program (it must
    fail the tests, not fail to compile: the completion is joined to its prompt first)."""
    return prompt + solution + _BREAK.format(name=entry_point)


@VERIFIERS.register("code")
def code_verifier(limits: Limits | None = None, workers: int = 2):
    """A Verifier (problems, responses) -> Scores for HumanEval / MBPP style problems."""

    def verify_code(problems: list[Problem], responses: list[str]) -> list[Score]:
        results = run_code_tests(problems, responses, limits=limits, workers=workers)
        assert len(results) == len(problems), "one score per input row"
        return [
            Score(value=1.0 if r.passed else 0.0, parsed=r.reason not in UNPARSED, reason=r.reason, extracted=r.status)
            for r, resp in zip(results, responses)
        ]

    return verify_code
