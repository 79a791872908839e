"""The judge's side of a code verdict: run the tests in a process the candidate cannot touch.

Forked by the sandbox launcher (harness mode) outside the candidate's PID namespace, as a uid of
its own when root, without capabilities, non-dumpable; the candidate runs in another process
(harness_runner.py). The judge waits for the candidate to report that it compiled and ran, then
executes the tests itself: HumanEval's `check(candidate)` (with the problem's prompt defined
first, for helpers such as `poly`) or MBPP's setup code and assert lines. Every name of the
candidate the tests use is a proxy that calls into the candidate's process; what comes back is
plain data (harness_wire.py), so the tests' `==` and `assert` are the judge's own. The tests are
compiled here with `optimize=0` (asserts kept whatever the flags), never pasted under the
candidate's code, and the verdict goes to the launcher on a pipe only the judge holds.

Left out: tests that pass functions or their own class instances to the candidate (they cannot
cross as plain data; the verdict is then an `error` naming the value).
"""

import builtins
import importlib
import sys

import harness_wire as wire

_BUILTIN_NAMES = frozenset(dir(builtins))


class ProgramRaised(Exception):
    """The candidate raised an exception that has no built-in type of the same name."""


class Connection:
    """Calls into the candidate's process. Calls with literal arguments found in the tests are
    sent ahead in one batch (`prefetch`), so a check of ten asserts costs one round trip, not
    ten; their replies are decoded afresh each time the tests make that call."""

    def __init__(self, requests: int, replies: int) -> None:
        self.requests, self.replies = requests, replies
        self.batch: list[dict] = []
        self.cache: dict[str, dict] | None = None

    def prefetch(self, calls: list[tuple[str, list, dict]]) -> None:
        self.batch = [{"op": "call", "ref": r, "args": wire.encode(a), "kwargs": wire.encode(k)} for r, a, k in calls]
        if self.batch:
            wire.send_to_candidate(self.requests, {"op": "batch", "calls": self.batch})

    def _cached(self, msg: dict) -> dict | None:
        if self.batch and self.cache is None:  # the batch reply follows the handshake
            replies = wire.recv_from_candidate(self.replies).get("batch")
            if not isinstance(replies, list) or len(replies) != len(self.batch):
                raise wire.WireError("malformed batch reply")
            # a reply holding a program object is not reused: Node(1) twice must be two nodes
            self.cache = {
                repr(m): r for m, r in zip(self.batch, replies) if isinstance(r, dict) and "'h':" not in repr(r)
            }
        return (self.cache or {}).get(repr(msg))

    def rpc(self, op: str, ref, **fields):
        msg = {"op": op, "ref": ref}
        for key, value in fields.items():
            msg[key] = wire.encode(value)
        reply = self._cached(msg) if op == "call" else None
        if reply is None:
            self._cached({})  # a pending batch reply comes first on the pipe
            wire.send_to_candidate(self.requests, msg)
            reply = wire.recv_from_candidate(self.replies)
        if "ok" in reply:
            return wire.decode(reply["ok"], from_ref=lambda r: wire.Handle(r, self.rpc))
        raise _rebuilt(reply.get("raise"))


def _rebuilt(info) -> Exception:
    """The candidate's exception as a fresh exception of the built-in type with that name."""
    if not (isinstance(info, list) and len(info) == 2 and all(type(x) is str for x in info)):
        raise wire.WireError("malformed reply")
    name, message = info
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception) and cls is not AssertionError:
        return cls(message)
    return ProgramRaised(f"{name}: {message}")


def _handshake(conn: Connection) -> dict:
    """The candidate's names once it compiled and ran; otherwise the reason it did not."""
    hello = wire.recv_from_candidate(conn.replies)
    if hello.get("ready") is True and isinstance(hello.get("names"), dict):
        return hello["names"]
    if "compile_error" in hello:
        raise _Verdict("error", f"does not compile: {str(hello['compile_error'])[:200]}")
    if "exited" in hello:
        raise _Verdict("failed", "exited before the tests ran")
    raise _rebuilt(hello.get("raise"))


class _Verdict(Exception):
    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def literal_calls(source: str, names: dict[str, str]) -> list[tuple[str, list, dict]]:
    """(ref, args, kwargs) of every call in `source` to one of `names` (name -> ref) whose
    arguments are all literals, in source order, without repeats (at most 500)."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    found: dict[str, tuple[str, list, dict]] = {}
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    for node in sorted(calls, key=lambda n: (n.lineno, n.col_offset)):
        if node.func.id not in names or any(k.arg is None for k in node.keywords):
            continue
        try:
            args = [ast.literal_eval(a) for a in node.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        found.setdefault(repr((node.func.id, args, kwargs)), (names[node.func.id], args, kwargs))
    return list(found.values())[:500]


def _compile(source: str, name: str):
    return compile(source, name, "exec", dont_inherit=True, optimize=0)


def _humaneval(spec: dict, conn: Connection, names: dict) -> None:
    namespace = {"__name__": "__ponder_tests__"}
    try:  # the prompt's helpers (e.g. `poly`) are the problem's, not the candidate's
        exec(_compile(spec.get("prompt") or "", "<prompt>"), namespace)
    except Exception:  # noqa: BLE001 - a prompt that does not run alone just adds nothing
        namespace = {"__name__": "__ponder_tests__"}
    candidate = wire.Handle(spec["entry_point"], conn.rpc)
    namespace[spec["entry_point"]] = candidate  # some checks call it by name as well
    exec(_compile(spec["test"], "<tests>"), namespace)
    namespace["check"](candidate)


def _resolve(path: str):
    """`module` or `module:qualified.name`, imported here (never the candidate's copy)."""
    module, _, qualname = path.partition(":")
    value = importlib.import_module(module)
    for part in filter(None, qualname.split(".")):
        value = getattr(value, part)
    return value


def _mbpp_namespace(names: dict, conn: Connection, shadows: frozenset) -> dict:
    """The candidate's own functions and classes become proxies. Modules, and what it imported
    from modules, are imported here afresh; a name of a standard module (`math`) is always the
    real module; names that shadow built-ins (`set`, `sorted`, …) are not taken from the
    candidate unless the problem's reference solution defines them too (`shadows`)."""
    namespace: dict = {"__name__": "__ponder_tests__"}
    for name, kind in names.items():
        if type(name) is not str or type(kind) is not str or (name in _BUILTIN_NAMES and name not in shadows):
            continue
        stdlib = name in sys.stdlib_module_names
        if kind == "callable" and not stdlib:
            namespace[name] = wire.Handle(name, conn.rpc)
        elif stdlib or kind.startswith(("module:", "from:")):
            try:
                namespace[name] = _resolve(name if stdlib else kind.partition(":")[2])
            except Exception:  # noqa: BLE001 - not importable here
                if kind.startswith("from:") and not stdlib:
                    namespace[name] = wire.Handle(name, conn.rpc)
    return namespace


def _mbpp(spec: dict, conn: Connection, names: dict) -> None:
    namespace = _mbpp_namespace(names, conn, frozenset(spec.get("shadows") or ()))
    source = (spec.get("setup") or "") + "\n" + "\n".join(spec["test_list"]) + "\n"
    conn.prefetch(literal_calls(source, {k: k for k, v in namespace.items() if type(v) is wire.Handle}))
    exec(_compile(source, "<tests>"), namespace)


def _failure(e: BaseException) -> tuple[str, str]:
    if isinstance(e, _Verdict):
        return e.status, e.reason
    if isinstance(e, AssertionError):
        return "failed", "a test assertion failed"
    if isinstance(e, wire.PeerGone):
        return "failed", "the program died during the tests"
    if isinstance(e, wire.WireError):
        return "failed", f"bad reply from the program: {e}"
    if isinstance(e, MemoryError):
        return "error", "MemoryError"
    if isinstance(e, ProgramRaised):
        return "failed", str(e)[:200]
    return "failed", f"{type(e).__name__}: {str(e)[:200]}"


def judge(spec: dict, requests: int, replies: int) -> dict:
    """The verdict {"status": passed|failed|error, "reason": ...} of the candidate on `spec`."""
    if sys.flags.optimize:  # asserts in our own helpers would be gone
        return {"status": "error", "reason": "the judge runs with -O; refusing to judge"}
    conn = Connection(requests, replies)
    try:
        if spec["form"] == "humaneval":
            refs = {"candidate": spec["entry_point"], spec["entry_point"]: spec["entry_point"]}
            conn.prefetch(literal_calls(spec["test"], refs))
        names = _handshake(conn)
        (_humaneval if spec["form"] == "humaneval" else _mbpp)(spec, conn, names)
    except BaseException as e:  # noqa: BLE001 - every failure, even SystemExit in a test, is a verdict
        status, reason = _failure(e)
        return {"status": status, "reason": reason}
    return {"status": "passed", "reason": "all tests passed"}
