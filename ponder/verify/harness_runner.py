"""The candidate's side of a code verdict: run the program alone, then answer the judge's calls.

Started inside the sandbox as `python -I -B harness_runner.py` in the candidate's working folder,
with fd 3 (requests from the judge) and fd 4 (replies). It compiles `program.py` on its own (a
syntax error is reported before any of it runs), executes it as `__main__`, then reports
"ready" with the kinds of the names the program defined and serves requests: call a name or a
handle, read or set an attribute. Every result goes back as plain data (harness_wire.py);
anything else is kept here and sent as a handle.

Nothing here is trusted: the program runs in this process and may rewrite all of it. The
judge never believes more than the plain values it receives, which a program could return
honestly anyway. Stdlib only.
"""

import sys

sys.path.insert(0, sys.argv[1])
import harness_wire as wire  # noqa: E402 - found through the folder given on the command line

del sys.path[0]
REQUESTS, REPLIES = 3, 4
_OBJECTS: dict[int, object] = {}
ModuleType = type(sys)


def _print_exc() -> None:
    import traceback  # only on errors: importing it costs every program milliseconds

    traceback.print_exc()


def _to_ref(value, depth: int) -> object:
    """Plain data for near-plain values (numpy scalars and arrays, subclasses of built-ins);
    a handle for everything else."""
    for base in (bool, int, float, str, bytes, list, tuple, dict, set, frozenset, complex):
        if isinstance(value, base):
            return wire.encode(base(value), depth + 1, _to_ref)
    for method in ("tolist", "item"):
        fn = getattr(type(value), method, None)
        if callable(fn) and type(value).__module__.split(".")[0] == "numpy":
            return wire.encode(fn(value), depth + 1, _to_ref)
    _OBJECTS[id(value)] = value
    return {"h": id(value)}


def _from_ref(ref):
    if type(ref) is int and ref in _OBJECTS:
        return _OBJECTS[ref]
    raise wire.WireError("unknown program object")


def _error(e: BaseException) -> dict:
    return {"raise": [type(e).__name__, str(e)[:300]]}


def _answer(req: dict, namespace: dict) -> dict:
    ref = req.get("ref")
    if type(ref) is str and ref not in namespace:
        return _error(NameError(f"name {ref!r} is not defined"))
    try:
        target = namespace[ref] if type(ref) is str else _from_ref(ref)
        if req["op"] == "call":
            args = wire.decode(req["args"], from_ref=_from_ref)
            kwargs = wire.decode(req["kwargs"], from_ref=_from_ref)
            result = target(*args, **kwargs)
        elif req["op"] == "getattr":
            result = getattr(target, req["attr"])
        else:
            setattr(target, req["attr"], wire.decode(req["value"], from_ref=_from_ref))
            result = None
        return {"ok": wire.encode(result, to_ref=_to_ref)}
    except Exception as e:  # noqa: BLE001 - the program's exception is the answer
        _print_exc()
        return _error(e)


def _serve(namespace: dict) -> None:
    """Answer requests until the judge closes the pipe; a batch (the calls with literal
    arguments the judge found in the tests) is answered in one message."""
    while True:
        try:
            req = wire.recv_from_judge(REQUESTS)
        except wire.PeerGone:
            return
        if req.get("op") == "batch":
            wire.send_to_judge(REPLIES, {"batch": [_answer(r, namespace) for r in req["calls"]]})
        else:
            wire.send_to_judge(REPLIES, _answer(req, namespace))


def _kind(value) -> str:
    """module:NAME, from:MODULE:QUALNAME (imported from a module), callable (its own), or value."""
    if isinstance(value, ModuleType):
        return "module:" + str(value.__name__)
    if not callable(value):
        return "value"
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and module not in ("__main__", "builtins"):
        return f"from:{module}:{qualname}"
    return "callable"


def main() -> None:
    with open("program.py", "rb") as f:
        source = f.read()
    try:
        code = compile(source, "program.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as e:
        _print_exc()
        wire.send_to_judge(REPLIES, {"compile_error": f"{type(e).__name__}: {e}"[:300]})
        sys.exit(1)
    module = ModuleType("__main__")
    module.__file__ = "program.py"
    sys.modules["__main__"] = module
    try:
        exec(code, module.__dict__)
    except SystemExit as e:
        wire.send_to_judge(REPLIES, {"exited": str(e.code)[:100]})
        raise
    except BaseException as e:  # noqa: BLE001 - reported to the judge, then we stop
        _print_exc()
        wire.send_to_judge(REPLIES, _error(e))
        sys.exit(1)
    names = {k: _kind(v) for k, v in list(module.__dict__.items()) if not k.startswith("__")}
    wire.send_to_judge(REPLIES, {"ready": True, "names": names})
    _serve(module.__dict__)


if __name__ == "__main__":
    main()
