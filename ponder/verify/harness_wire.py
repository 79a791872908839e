"""Plain data over a pipe: the only thing that crosses between a candidate program and its judge.

The code verifier runs a candidate in one process and its tests in another (the judge, see
harness_judge.py). Values cross as tagged JSON that decodes only to fresh objects of exact
built-in types — None, bool, int, float, complex, str, bytes, list, tuple, dict, set,
frozenset, and the built-in types themselves (`int`) — so nothing the candidate defines (an `__eq__` that is always true, a `str`
subclass, a lying `__bool__`) ever reaches the judge. Anything else is sent as a *handle*: an
opaque reference the judge can pass back, call, or read attributes of, but that compares equal
only to itself and has no truth value.

Messages are length-prefixed and capped in size and depth: JSON from the candidate (written by
hand here, read by the judge with the json module), marshal from the judge (trusted data, read
without importing anything). Stdlib only: this file is loaded by the sandbox launcher and inside
the sandbox, where `ponder` is not importable; it imports nothing slow.

Left out: preserving object identity or aliasing across the pipe, and in-place mutation of
arguments (a test that checks a list the candidate sorted in place sees its own copy unchanged).
"""

from __future__ import annotations

import builtins
import marshal
import math
import os

MAX_MESSAGE = 8 << 20
MAX_DEPTH = 200


class WireError(Exception):
    """A message that is too big, too deep, malformed, or a value that cannot be sent."""


class PeerGone(Exception):
    """The other side closed its end (exited or was killed)."""


class Handle:
    """The judge's stand-in for a candidate object that is not plain data."""

    __slots__ = ("ref", "_rpc")

    def __init__(self, ref: dict, rpc) -> None:
        object.__setattr__(self, "ref", ref)
        object.__setattr__(self, "_rpc", rpc)

    def __call__(self, *args, **kwargs):
        return self._rpc("call", self.ref, args=list(args), kwargs=kwargs)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._rpc("getattr", self.ref, attr=name)

    def __setattr__(self, name: str, value) -> None:
        self._rpc("setattr", self.ref, attr=name, value=value)

    def __bool__(self) -> bool:
        raise TypeError("the program returned an object that is not plain data; it has no truth value here")

    def __repr__(self) -> str:
        return f"<program object {self.ref}>"


def encode(value, depth: int = 0, to_ref=None) -> object:
    """A JSON-able form of `value`. `to_ref(obj)` gives a reference for a value that is not plain
    data (the candidate's side registers it as a handle); without it such a value is an error."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        return value if -(1 << 62) < value < (1 << 62) else {"I": format(value, "x")}
    if t is float:
        return value if math.isfinite(value) else {"F": repr(value)}
    if t is list:
        return [encode(v, depth + 1, to_ref) for v in value]
    if t is tuple:
        return {"t": [encode(v, depth + 1, to_ref) for v in value]}
    if t is dict:
        return {"d": [[encode(k, depth + 1, to_ref), encode(v, depth + 1, to_ref)] for k, v in value.items()]}
    if t is set or t is frozenset:
        return {"s" if t is set else "fs": [encode(v, depth + 1, to_ref) for v in value]}
    if t is bytes or t is bytearray:
        return {"b" if t is bytes else "ba": value.hex()}
    if t is complex:
        return {"c": [encode(value.real), encode(value.imag)]}
    if t is Handle:
        return {"h": value.ref}
    if t is type and getattr(builtins, value.__name__, None) is value:
        return {"T": value.__name__}  # a built-in type (`int`, `str`) as an argument or result
    if to_ref is None:
        raise WireError(f"cannot send a {t.__name__} (only plain data and program objects cross)")
    return to_ref(value, depth)


def decode(obj, depth: int = 0, from_ref=None):
    """The value `obj` (from `encode`) stands for, built from exact built-in types only."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    t = type(obj)
    if obj is None or t is bool or t is str or t is int or t is float:
        return obj
    if t is list:
        return [decode(v, depth + 1, from_ref) for v in obj]
    if t is not dict or len(obj) != 1:
        raise WireError("malformed value")
    (tag, body), d = next(iter(obj.items())), depth + 1
    if tag == "t":
        return tuple(decode(v, d, from_ref) for v in body)
    if tag == "d":
        return {decode(k, d, from_ref): decode(v, d, from_ref) for k, v in body}
    if tag in ("s", "fs"):
        items = [decode(v, d, from_ref) for v in body]
        return set(items) if tag == "s" else frozenset(items)
    if tag in ("b", "ba"):
        return bytes.fromhex(body) if tag == "b" else bytearray.fromhex(body)
    if tag == "c":
        return complex(float(decode(body[0], d)), float(decode(body[1], d)))
    if tag == "I":
        return int(str(body), 16)
    if tag == "F" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "T" and type(body) is str and isinstance(getattr(builtins, body, None), type):
        return getattr(builtins, body)
    if tag == "h" and from_ref is not None:
        return from_ref(body)
    raise WireError(f"malformed value (tag {tag!r})")


def to_json(obj) -> str:
    """JSON text of an `encode` result, without importing json (whose import pulls in `re` and
    costs tens of milliseconds in every sandboxed program)."""
    t = type(obj)
    if obj is None:
        return "null"
    if t is bool:
        return "true" if obj else "false"
    if t is int or t is float:
        return repr(obj)
    if t is str:
        return _json_string(obj)
    if t is list:
        return "[" + ",".join(to_json(v) for v in obj) + "]"
    if t is dict:
        return "{" + ",".join(_json_string(k) + ":" + to_json(v) for k, v in obj.items()) + "}"
    raise WireError(f"cannot write a {t.__name__} as JSON")


def _json_string(s: str) -> str:
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return '"' + s + '"'
    out = []
    for ch in s:
        o = ord(ch)
        if 32 <= o < 127 and ch != '"' and ch != "\\":
            out.append(ch)
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            o -= 0x10000
            out.append(f"\\u{0xD800 + (o >> 10):04x}\\u{0xDC00 + (o & 0x3FF):04x}")
    return '"' + "".join(out) + '"'


def _send(fd: int, data: bytes) -> None:
    if len(data) > MAX_MESSAGE:
        raise WireError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE}")
    data = len(data).to_bytes(4, "big") + data
    while data:
        try:
            n = os.write(fd, data)
        except OSError as e:
            raise PeerGone(str(e)) from None
        data = data[n:]


def _read_exact(fd: int, n: int) -> bytes:
    parts, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise PeerGone("pipe closed")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _recv(fd: int) -> bytes:
    size = int.from_bytes(_read_exact(fd, 4), "big")
    if size > MAX_MESSAGE:
        raise WireError(f"message of {size} bytes exceeds {MAX_MESSAGE}")
    return _read_exact(fd, size)


def send_to_judge(fd: int, message: dict) -> None:
    """The candidate's side writes JSON (parsed by the judge with the json module)."""
    _send(fd, to_json(message).encode("ascii"))


def recv_from_candidate(fd: int) -> dict:
    """The judge reads the candidate's JSON; anything malformed is a WireError."""
    import json

    try:
        message = json.loads(_recv(fd))
    except (ValueError, RecursionError) as e:
        raise WireError(f"malformed message: {type(e).__name__}") from None
    if type(message) is not dict:
        raise WireError("malformed message")
    return message


def send_to_candidate(fd: int, message: dict) -> None:
    """The judge writes marshal (fast to read without imports; the judge's data is trusted)."""
    _send(fd, marshal.dumps(message))


def recv_from_judge(fd: int) -> dict:
    return marshal.loads(_recv(fd))
