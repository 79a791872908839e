"""Dataclass configs from YAML files plus dotted command-line overrides, type-checked.

`load_config(MyConfig, "recipe.yaml", ["optim.lr=3e-5", "--steps=100"])` builds a MyConfig
(nested dataclasses allowed), rejecting unknown keys (with the list of known ones) and values
of the wrong type before any work starts. Values in overrides are parsed as YAML scalars, so
`lr=3e-5`, `stop=["\\n"]`, `kl=null` work. Supported field types: bool, int, float, str,
Optional[...], Literal[...], list[...], tuple[...], dict, and nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import yaml

from ponder.types import PonderError

T = TypeVar("T")
_YAML11_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _unknown_key(cls: type, key: str, where: str) -> PonderError:
    known = list(_fields(cls))
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return PonderError(f"unknown config key {where}{key!r}.{hint} Known keys: {', '.join(known)}")


def _check(value: Any, tp: Any, name: str) -> Any:
    """Return value converted to type tp, or raise PonderError naming the key."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _check(value, a, name)
            except PonderError as e:
                errors.append(str(e))
        raise PonderError(errors[0] if errors else f"config key {name!r} cannot be null")
    if origin is Literal:
        if value not in get_args(tp):
            raise PonderError(f"config key {name!r} must be one of {list(get_args(tp))}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise PonderError(f"config key {name!r} must be a mapping, got {value!r}")
        return _build(tp, value, prefix=f"{name}.")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise PonderError(f"config key {name!r} must be a list, got {value!r}")
        args = get_args(tp)
        inner = args[0] if args else Any
        items = [_check(v, inner, name) for v in value]
        return items if origin is list else tuple(items)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise PonderError(f"config key {name!r} must be a mapping, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise PonderError(f"config key {name!r} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise PonderError(f"config key {name!r} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str) and _YAML11_FLOAT.match(value.strip()):
            return float(value)  # YAML 1.1 (PyYAML) reads "3e-5" as a string
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PonderError(f"config key {name!r} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise PonderError(f"config key {name!r} must be a string, got {value!r}")
        return value
    raise PonderError(f"config key {name!r}: unsupported type {tp}")


def _build(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    hints = typing.get_type_hints(cls)
    fields = _fields(cls)
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            raise _unknown_key(cls, key, prefix)
        kwargs[key] = _check(value, hints[key], prefix + key)
    return cls(**kwargs)


def field_type(cls: type, dotted: str) -> Any:
    """The declared type of a dotted key (`optim.lr` -> float); keys under a dict field -> Any."""
    parts, node_cls = dotted.split("."), cls
    for i, part in enumerate(parts):
        fields = _fields(node_cls)
        if part not in fields:
            raise _unknown_key(node_cls, part, ".".join(parts[:i]) + ("." if i else ""))
        tp = typing.get_type_hints(node_cls)[part]
        if i == len(parts) - 1:
            return tp
        if _is_dict(tp):
            args = get_args(_strip_optional(tp))
            return args[1] if len(args) == 2 and i == len(parts) - 2 else Any
        if not dataclasses.is_dataclass(tp):
            raise PonderError(f"config key {'.'.join(parts[: i + 1])!r} has no sub-keys")
        node_cls = tp
    raise AssertionError("unreachable")


def _is_dict(tp: Any) -> bool:
    tp = _strip_optional(tp)
    return tp is dict or get_origin(tp) is dict


def _strip_optional(tp: Any) -> Any:
    if get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def read_value(raw: str, tp: Any) -> Any:
    """Command-line text as a value of type tp: a str key keeps the text (`null` is None where
    the key may be null); a list takes `a,b,c` and a mapping `k=v,k2=v2` (items read the same
    way); `[...]` / `{...}` and every other type are read as YAML."""
    base = _strip_optional(tp)
    if base is not tp and raw in ("null", "~"):
        return None
    if raw.startswith(("[", "{")) or tp is Any:
        return yaml_scalar(raw)
    args = get_args(base)
    if base is str:
        return raw
    if get_origin(base) is Literal and raw in map(str, args):
        return next(a for a in args if str(a) == raw)  # `--x=no` stays "no", not YAML's false
    if get_origin(base) in (list, tuple) or base in (list, tuple):
        return [read_value(x.strip(), args[0] if args else Any) for x in raw.split(",") if x.strip()]
    if _is_dict(base) and "=" in raw:
        pairs = [entry.split("=", 1) for entry in raw.split(",")]
        return {k.strip(): read_value(v.strip(), args[1] if len(args) == 2 else Any) for k, v in pairs}
    return yaml_scalar(raw)


def _set_dotted(data: dict[str, Any], cls: type, dotted: str, value: Any) -> None:
    """Set a dotted key to a value or to command-line text (read_value); keys below a dict field
    (`options.beam.width`) make nested mappings, and a mapping is merged into what is there (so
    --data a=x --data b=y adds)."""
    if isinstance(value, str):
        value = read_value(value, field_type(cls, dotted))
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise PonderError(f"config key {dotted!r}: {part!r} is set to a value, not a mapping")
    last = parts[-1]
    if isinstance(value, dict) and isinstance(node.get(last), dict):
        value = {**node[last], **value}
    node[last] = value


def yaml_scalar(raw: str) -> Any:
    try:
        return yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        return raw


def parse_override(text: str) -> tuple[str, str]:
    """`--a.b=3` or `a.b=3` -> ("a.b", "3"); the text is read by the key's type when applied."""
    body = text[2:] if text.startswith("--") else text
    if "=" not in body:
        raise PonderError(f"override {text!r} must look like key=value (dotted keys for nested configs)")
    key, raw = body.split("=", 1)
    return key.strip().replace("-", "_"), raw


def load_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise PonderError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise PonderError(f"config file {p} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise PonderError(f"config file {p} must hold a mapping of keys to values")
    return data


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] | None = None) -> T:
    """Build `cls` from an optional YAML file, then apply dotted overrides; type-checked."""
    return with_overrides(cls, load_yaml(path) if path else {}, [parse_override(t) for t in overrides or []])


def with_overrides(cls: type[T], data: dict[str, Any], overrides: list[tuple[str, Any]]) -> T:
    """Build `cls` from plain data (a parsed recipe) with (dotted key, value) overrides applied."""
    for key, value in overrides:
        _set_dotted(data, cls, key, value)
    return _build(cls, data)


def build_config(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """`cls` from a plain mapping, type-checked like a recipe (prefix names where it came from)."""
    return _build(cls, data, prefix)


def to_dict(cfg: Any) -> dict[str, Any]:
    """The resolved config as plain data (written beside results)."""
    return dataclasses.asdict(cfg)
