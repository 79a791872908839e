"""Knights-and-knaves logic puzzles (Smullyan): knights always tell the truth, knaves always lie.

A puzzle has 2-6 people (A, B, ...), each making one claim of five kinds: "X is a knight/knave",
"X and Y are knights/knaves", "X or Y is a knight/knave", "X and Y are the same kind",
"X and Y are different kinds". The generator draws a hidden assignment, then claims consistent
with it, and resamples claims until brute force over all 2^n assignments finds exactly one.

The trace is a depth-first search over assignments in people order, one line per try, e.g.
`A=K B=N: A:T ok, B:T fail` (A knight, B knave; A's claim is true, fine; B's claim is true
although B is a knave, so this branch fails and the search backtracks). Under a line's
assignment, a claim is checked once all the people it involves (speaker included) are assigned.
The answer is `A=knight,B=knave`.

Left out: claims about counts ("exactly one of us is a knave"), nested claims ("B says that C
..."), normals/spies, and people without a claim in generated puzzles (parsed ones may have them).
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re

from ponder.steps import ANSWER_CLOSE, ANSWER_OPEN, parse_response, step_body
from ponder.tasks import TASKS
from ponder.tasks.task import check_level, format_response
from ponder.types import PonderError, Problem, Score

PREFIX = "Knights and knaves: "
NAMES = "ABCDEFGHIJ"  # parse() accepts up to 10 people; brute force is 2^n
NEGATION = {"is": "is", "both": "either", "either": "both", "same": "diff", "diff": "same"}

_ROLE = r"(knight|knave)"
_CLAIM_RES = {
    "is": re.compile(rf"([A-Z]) is an? {_ROLE}", re.I),
    "both": re.compile(rf"([A-Z]) and ([A-Z]) are {_ROLE}s", re.I),
    "either": re.compile(rf"([A-Z]) or ([A-Z]) is an? {_ROLE}", re.I),
    "same": re.compile(r"([A-Z]) and ([A-Z]) are the same kind", re.I),
    "diff": re.compile(r"([A-Z]) and ([A-Z]) are different kinds", re.I),
}
_SENTENCE_RE = re.compile(r"([A-Z]) says:? (.+)", re.I)
_PREFIX_RE = re.compile(r"^\s*knights? and knaves?\s*[:.]?\s*", re.I)
_PAIR_RE = re.compile(r"(?<![A-Za-z])([A-Za-z])(?:\s*[=:]\s*|\s+is\s+(?:an?\s+)?)(knights?|knaves?|k|n)\b", re.I)
_LINE_RE = re.compile(r"^((?:[A-Z]=[KN]\s*)+)(?::\s*(.*))?$")
_VERDICT_RE = re.compile(r"^([A-Z]):([TF])\s+(ok|fail)$")


def _all(a: dict[str, bool], ps: list[str], want: bool) -> bool:
    return all(a[p] == want for p in ps)


# kind -> truth of the claim about people `ps` (role: "knight" | "knave" | None) under assignment `a`
_TRUTH = {
    "is": lambda a, ps, role: a[ps[0]] == (role == "knight"),
    "both": lambda a, ps, role: _all(a, ps, role == "knight"),
    "either": lambda a, ps, role: not _all(a, ps, role != "knight"),
    "same": lambda a, ps, role: a[ps[0]] == a[ps[1]],
    "diff": lambda a, ps, role: a[ps[0]] != a[ps[1]],
}


def truth(stmt: dict, assign: dict[str, bool]) -> bool | None:
    """Is the claim true under a (partial) assignment (True = knight)? None: someone unassigned."""
    if any(p not in assign for p in stmt["people"]):
        return None
    return _TRUTH[stmt["kind"]](assign, stmt["people"], stmt["role"])


_TEXT = {
    "is": "{0} is a {role}",
    "both": "{0} and {1} are {role}s",
    "either": "{0} or {1} is a {role}",
    "same": "{0} and {1} are the same kind",
    "diff": "{0} and {1} are different kinds",
}


def claim_text(stmt: dict) -> str:
    return _TEXT[stmt["kind"]].format(*stmt["people"], role=stmt["role"])


def question_text(stmts: list[dict]) -> str:
    return PREFIX + " ".join(f"{s['speaker']} says {claim_text(s)}." for s in stmts)


def solutions(people: list[str], stmts: list[dict]) -> list[dict[str, bool]]:
    """Every assignment under which each speaker's claim is true exactly when they are a knight."""
    out = []
    for values in itertools.product((True, False), repeat=len(people)):
        a = dict(zip(people, values))
        if all(truth(s, a) == a[s["speaker"]] for s in stmts):
            out.append(a)
    return out


def canonical(assign: dict[str, bool]) -> str:
    return ",".join(f"{p}={'knight' if v else 'knave'}" for p, v in sorted(assign.items()))


def _random_claim(rng: random.Random, speaker: str, people: list[str], hidden: dict[str, bool]) -> dict:
    """A random claim by `speaker`, negated if needed so that it is consistent with `hidden`."""
    kind = rng.choice(list(_TRUTH))
    if kind == "is":
        about = [rng.choice([p for p in people if p != speaker])]
    else:
        about = sorted(rng.sample(people, 2))
    role = rng.choice(["knight", "knave"]) if kind in ("is", "both", "either") else None
    stmt = {"speaker": speaker, "kind": kind, "people": about, "role": role}
    if truth(stmt, hidden) != hidden[speaker]:
        stmt["kind"], stmt["role"] = NEGATION[kind], {"knight": "knave", "knave": "knight"}.get(role)
    return stmt


def generate(rng: random.Random, n: int, max_rounds: int = 1000) -> tuple[list[dict], dict[str, bool]]:
    """Claims with exactly one solution: draw a hidden assignment and consistent claims, then
    replace one random claim at a time until the solution is unique."""
    people = list(NAMES[:n])
    hidden = {p: rng.random() < 0.5 for p in people}
    stmts = [_random_claim(rng, p, people, hidden) for p in people]
    for _ in range(max_rounds):
        if len(solutions(people, stmts)) == 1:
            return stmts, hidden
        i = rng.randrange(n)
        stmts[i] = _random_claim(rng, people[i], people, hidden)
    raise RuntimeError(f"no unique {n}-person puzzle after {max_rounds} rounds")  # never seen


def _try_line(assign: dict[str, bool], stmts: list[dict], newest: str) -> tuple[str, bool]:
    """One search line: the assignment, then the claims it newly decides, up to the first failure."""
    verdicts, ok = [], True
    for s in stmts:
        involved = [s["speaker"], *s["people"]]
        if newest not in involved or any(p not in assign for p in involved):
            continue
        t = truth(s, assign)
        ok = t == assign[s["speaker"]]
        verdicts.append(f"{s['speaker']}:{'T' if t else 'F'} {'ok' if ok else 'fail'}")
        if not ok:
            break
    line = " ".join(f"{p}={'K' if v else 'N'}" for p, v in assign.items())
    return (f"{line}: {', '.join(verdicts)}" if verdicts else line), ok


def search_lines(people: list[str], stmts: list[dict], rng: random.Random) -> tuple[list[str], dict | None]:
    """Depth-first search in people order; each person's two values are tried in random order."""
    lines: list[str] = []
    assign: dict[str, bool] = {}

    def visit(k: int) -> dict | None:
        if k == len(people):
            return dict(assign)
        for v in rng.sample([True, False], 2):
            assign[people[k]] = v
            line, ok = _try_line(assign, stmts, people[k])
            lines.append(line)
            found = visit(k + 1) if ok else None
            if found is not None:
                return found
            del assign[people[k]]
        return None

    return lines, visit(0)


def parse_assignment(text: str) -> dict[str, bool] | str:
    """`A=knight, b: Knave, C is a knight` -> {"A": True, "B": False, "C": True}; a str = why not."""
    out: dict[str, bool] = {}
    for name, role in _PAIR_RE.findall(text):
        name, value = name.upper(), role.lower().startswith("knight") or role.lower() == "k"
        if out.get(name, value) != value:
            return f"conflicting values for {name}"
        out[name] = value
    return out or "no 'X=knight' or 'X=knave' pairs found"


def _check_line(problem: Problem, body: str) -> bool | None:
    m = _LINE_RE.match(body)
    if m is None:
        return None
    pairs = m.group(1).split()
    assign = {p[0]: p[2] == "K" for p in pairs}
    people = problem.meta["people"]
    if len(assign) != len(pairs) or any(p not in people for p in assign):
        return False
    by_speaker = {s["speaker"]: s for s in problem.meta["statements"]}
    verdicts = [v.strip() for v in (m.group(2) or "").split(",") if v.strip()]
    for v in verdicts:
        vm = _VERDICT_RE.match(v)
        if vm is None or vm.group(1) not in by_speaker or vm.group(1) not in assign:
            return False
        t = truth(by_speaker[vm.group(1)], assign)
        if t is None or (vm.group(2) == "T") != t or (vm.group(3) == "ok") != (t == assign[vm.group(1)]):
            return False
    if any(v.endswith("fail") for v in verdicts):
        return True
    return _no_failure(by_speaker.values(), assign)  # a line without "fail" claims consistency


def _no_failure(stmts, assign: dict[str, bool]) -> bool:
    """No claim decided by the partial assignment (speaker and people assigned) contradicts it."""
    for s in stmts:
        t = truth(s, assign)
        if t is not None and s["speaker"] in assign and t != assign[s["speaker"]]:
            return False
    return True


def _consistent(problem: Problem, assign: dict[str, bool]) -> bool:
    people = problem.meta["people"]
    if sorted(assign) != sorted(people):
        return False
    return all(truth(s, assign) == assign[s["speaker"]] for s in problem.meta["statements"])


def _parse_claim(speaker: str, text: str) -> dict | None:
    for kind, rx in _CLAIM_RES.items():
        m = rx.fullmatch(text.strip())
        if m:
            groups = m.groups()
            role = groups[-1].lower() if kind in ("is", "both", "either") else None
            about = [g.upper() for g in (groups[:-1] if role else groups)]
            return {"speaker": speaker, "kind": kind, "people": about, "role": role}
    return None


def make_problem(stmts: list[dict], people: list[str]) -> Problem:
    """A Problem from claims with a unique solution (raises PonderError otherwise)."""
    question = question_text(stmts)
    found = solutions(people, stmts)
    if len(found) != 1:
        raise PonderError(f"knights puzzle {question!r} has {len(found)} solutions; it needs exactly one")
    digest = hashlib.sha1(question.encode()).hexdigest()[:10]
    meta = {"people": people, "statements": stmts, "level": len(people)}
    solution = {p: "knight" if v else "knave" for p, v in found[0].items()}
    return Problem(
        id=f"knights-{digest}",
        task="knights",
        question=question,
        answer=canonical(found[0]),
        meta=meta,
        info={"solution": solution},
    )


@TASKS.register("knights")
class KnightsTask:
    name = "knights"
    levels = (2, 3, 4, 5, 6)  # number of people
    train_levels = (2, 3)
    default_level = 3
    reference_free = False

    def sample(self, rng: random.Random, level: int) -> Problem:
        n = check_level(self, level)
        stmts, _ = generate(rng, n)
        return make_problem(stmts, list(NAMES[:n]))

    def trace(self, problem: Problem, rng: random.Random) -> str:
        lines, found = search_lines(problem.meta["people"], problem.meta["statements"], rng)
        if found is None:
            raise PonderError(f"knights problem {problem.id} has no solution; cannot write a trace")
        return format_response(lines, canonical(found))

    def check(self, problem: Problem, response: str) -> Score:
        text = parse_response(response).answer
        if text is None:
            return Score(0.0, parsed=False, reason="no <answer>...</answer> tag")
        got = parse_assignment(text)
        if isinstance(got, str):
            return Score(0.0, parsed=False, reason=got)
        want = {p: r == "knight" for p, r in problem.info["solution"].items()}
        extracted = canonical(got)
        if got == want:
            return Score(1.0, reason="correct", extracted=extracted)
        missing = sorted(set(want) - set(got))
        reason = f"missing {','.join(missing)}" if missing else "wrong assignment"
        return Score(0.0, reason=reason, extracted=extracted)

    def check_step(self, problem: Problem, step: str) -> bool | None:
        """Re-checks a search line (or the final answer) against the public claims in meta."""
        body = step_body(step)
        if ANSWER_OPEN in body:
            got = parse_assignment(body.replace(ANSWER_OPEN, "").replace(ANSWER_CLOSE, ""))
            return not isinstance(got, str) and _consistent(problem, got)
        return _check_line(problem, body) if body else None

    def parse(self, text: str) -> Problem | None:
        body = _PREFIX_RE.sub("", text.strip(), count=1)
        sentences = [s.strip() for s in body.split(".") if s.strip()]
        stmts = []
        for sentence in sentences:
            m = _SENTENCE_RE.fullmatch(sentence)
            stmt = _parse_claim(m.group(1).upper(), m.group(2)) if m else None
            if stmt is None:
                return None
            stmts.append(stmt)
        if not stmts:
            return None
        speakers = [s["speaker"] for s in stmts]
        if len(set(speakers)) != len(speakers):
            raise PonderError("in a knights puzzle each person makes one claim; merge or drop the repeats")
        people = sorted({p for s in stmts for p in (s["speaker"], *s["people"])})
        if len(people) > len(NAMES):
            raise PonderError(f"knights puzzles may have at most {len(NAMES)} people, got {len(people)}")
        return make_problem(sorted(stmts, key=lambda s: s["speaker"]), people)
