"""The code verifier: run a model-written Python program against tests, in the sandbox.

Tests come in HumanEval form (`info["test"]` defines `check(candidate)`, `info["entry_point"]`
names the function; the response may be a whole program or a completion of `info["prompt"]`) or
MBPP form (`info["test_list"]` of assert lines, optional `info["test_setup_code"]`). The code is
taken from the `<answer>` tag when present, else from the fenced ```python block that defines the
entry point (else the last fenced block), else the whole response.

A run passes only if the program exits 0 *and* prints a marker written after the tests, so a
program that calls `sys.exit(0)` before the tests does not pass. A program that reads its own
source can forge the marker: this guards against accidents, not against a model that games it.
Statuses: passed / failed (the tests ran and one failed or raised) / timeout / error (the program
could not be run to a verdict: it does not compile, hit the memory or output limit, was killed).
"""

from __future__ import annotations

import re
import secrets
import signal
from dataclasses import dataclass

from ponder.answers import extract_code
from ponder.types import Problem, Score
from ponder.verify import VERIFIERS
from ponder.verify.sandbox import Limits, SandboxResult, run_many

_IMPORT_RE = re.compile(r"^(?:import|from)\s+\S.*$", re.MULTILINE)
EXCERPT_CHARS = 300


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


def build_program(problem: Problem, response: str, marker: str) -> str | None:
    """The full program to run (candidate + tests + marker), or None if the problem has no tests."""
    info = problem.info
    if info.get("test") and info.get("entry_point"):
        entry = info["entry_point"]
        code = extract_code(response, entry)
        prompt = info.get("prompt", "")
        if _defines(code, entry):
            head = "\n".join(_IMPORT_RE.findall(prompt))
            body = f"{head}\n{code}"
        else:
            body = prompt + code
        tests = f"{info['test']}\n\ncheck({entry})\n"
    elif info.get("test_list"):
        # MBPP's setup code may use the solution's own classes (tasks 367, 927), so it runs after it.
        body = extract_code(response)
        tests = f"{info.get('test_setup_code') or ''}\n" + "\n".join(info["test_list"]) + "\n"
    else:
        return None
    return f"{body}\n\n{tests}\nprint({marker!r})\n"


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


def classify(res: SandboxResult, marker: str, limits: Limits) -> CodeResult:
    """Turn a sandbox run into a verdict with a short reason (saying so if the network was reachable)."""
    result = _verdict(res, marker, limits)
    if res.isolation and not res.isolation.get("network"):
        result.reason += " [no network namespace: the program could reach the network]"
    return result


def _verdict(res: SandboxResult, marker: str, limits: Limits) -> CodeResult:
    excerpt = res.stderr[-EXCERPT_CHARS:]
    last = _last_line(res.stderr)
    # PID-namespace init ignores SIGXCPU, so a CPU overrun can also show as SIGKILL at the hard limit.
    cpu_killed = res.signal == signal.SIGXCPU or (
        res.signal == signal.SIGKILL and res.cpu_seconds >= 0.9 * limits.cpu_seconds
    )
    if res.timed_out:
        return CodeResult("timeout", f"wall-clock limit of {limits.wall_seconds:g}s", excerpt, res.isolation)
    if cpu_killed:
        return CodeResult("timeout", f"CPU-time limit of {limits.cpu_seconds}s", excerpt, res.isolation)
    if res.exit_code == 0 and marker in res.stdout:
        return CodeResult("passed", "all tests passed", excerpt, res.isolation)
    if res.output_truncated:
        return CodeResult("error", f"output limit of {limits.max_output_bytes} bytes exceeded", excerpt, res.isolation)
    if res.exit_code is None:
        name = signal.Signals(res.signal).name if res.signal else "unknown"
        return CodeResult("error", f"killed by {name}", excerpt, res.isolation)
    if res.exit_code == 0:
        return CodeResult("failed", "exited before the tests finished", excerpt, res.isolation)
    if "MemoryError" in last:
        return CodeResult("error", f"memory limit of {limits.memory_mb} MB", excerpt, res.isolation)
    if last.startswith(("SyntaxError", "IndentationError", "TabError")):
        return CodeResult("error", f"does not compile: {last}", excerpt, res.isolation)
    if last.startswith("AssertionError"):
        return CodeResult("failed", "a test assertion failed", excerpt, res.isolation)
    return CodeResult("failed", last or f"exit code {res.exit_code}", excerpt, res.isolation)


def run_code_tests(
    problems: list[Problem], responses: list[str], limits: Limits | None = None, workers: int = 2
) -> list[CodeResult]:
    """Run each response against its problem's tests; `workers` programs at a time."""
    limits = limits or Limits()
    responses = [r if isinstance(r, str) else "" for r in responses]
    marker = f"__ponder_tests_passed_{secrets.token_hex(8)}__"
    programs = [build_program(p, r, marker) if r.strip() else None for p, r in zip(problems, responses)]
    todo = [i for i, prog in enumerate(programs) if prog is not None]
    runs = run_many([programs[i] for i in todo], limits=limits, workers=workers)
    out = [CodeResult("error", "no tests in problem.info" if r.strip() else "empty response") for r in responses]
    for i, res in zip(todo, runs):
        out[i] = classify(res, marker, limits)
    return out


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


def broken_variant(solution: str, entry_point: str) -> str:
    """A plausible but wrong variant of a solution (every return value of the entry point
    changed), for checking that a problem's tests reject a wrong program."""
    return solution + _BREAK.format(name=entry_point)


@VERIFIERS.register("code")
def code_verifier(limits: Limits | None = None, workers: int = 2):
    """A Verifier (problems, responses) -> Scores for HumanEval / MBPP style problems."""

    def verify_code(problems: list[Problem], responses: list[str]) -> list[Score]:
        results = run_code_tests(problems, responses, limits=limits, workers=workers)
        return [
            Score(
                value=1.0 if r.passed else 0.0, parsed=r.reason != "empty response", reason=r.reason, extracted=r.status
            )
            for r, resp in zip(results, responses)
        ]

    return verify_code
