"""One command-line syntax for every `ponder` subcommand, read off a config dataclass.

Every key of the command's config (nested ones dotted) is an option: `--a.b=v` or `--a.b v`
(a bool alone, `--quiet`, means true); dashes and underscores are the same (`--n-problems`).
Values are YAML scalars; a list also takes `a,b,c` and a mapping `k=v` (repeatable). A command
may name short aliases (`--task` for `tasks`). A positional `*.yaml` (or `--recipe F`, where the
command reads recipes) is a recipe file that the options override. Unknown keys fail with the
known ones and a close match; `--help` lists every key with its type, default and one line.

Field docs follow one convention: the config class docstring holds a line `name: what it is`
per field (inherited classes add their own lines). Left out: short single-dash flags (`-n 3`).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args, get_origin

from ponder.config import field_type, load_yaml, parse_override, with_overrides
from ponder.types import PonderError

T = TypeVar("T")
_DOC_LINE = re.compile(r"^\s*([A-Za-z_]\w*):\s+(.+?)\s*$")


class HelpShown(SystemExit):
    """Raised after `--help` printed the help: exit status 0, as argparse does."""

    def __init__(self) -> None:
        super().__init__(0)


@dataclass
class Parsed:
    """What a command line said: overrides (dotted key, value), positionals, recipe path."""

    overrides: list[tuple[str, Any]] = field(default_factory=list)  # values: text, or True for a bool flag
    positionals: list[str] = field(default_factory=list)
    recipe: str | None = None


def field_docs(cls: type) -> dict[str, str]:
    """`name: one line` entries of the class docstrings along the MRO (subclass lines win)."""
    names = {f.name for f in dataclasses.fields(cls)}
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        for line in (inspect.getdoc(klass) or "").splitlines() if "__doc__" in vars(klass) else []:
            m = _DOC_LINE.match(line)
            if m and m[1] in names:
                docs[m[1]] = m[2]
    return docs


def flat_keys(cls: type, instance: Any = None, prefix: str = "") -> list[tuple[str, Any, Any, str]]:
    """(dotted key, type, default, doc) of every leaf key; defaults read off a default instance."""
    instance = cls() if instance is None else instance
    hints, docs = typing.get_type_hints(cls), field_docs(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp, value = hints[f.name], getattr(instance, f.name)
        if dataclasses.is_dataclass(tp):
            out += flat_keys(tp, value, f"{prefix}{f.name}.")
        else:
            out.append((prefix + f.name, tp, value, docs.get(f.name, "")))
    return out


def type_name(tp: Any) -> str:
    """A short readable name: `int`, `str?` (may be null), `list[int]`, `a|b|c` (Literal)."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return "|".join(map(str, args))
    if type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (type_name(rest[0]) if len(rest) == 1 else "|".join(map(type_name, rest))) + "?"
    if origin in (list, tuple, dict):
        return f"{origin.__name__}[{', '.join(type_name(a) for a in args if a is not Ellipsis)}]"
    return getattr(tp, "__name__", str(tp))


def help_text(cls: type, prog: str, doc: str, aliases: dict[str, str] | None = None) -> str:
    by_key = {v: k for k, v in (aliases or {}).items()}
    rows = []
    for key, tp, default, line in flat_keys(cls):
        name = f"--{key}" + (f" (--{by_key[key]})" if key in by_key else "")
        rows.append((name, type_name(tp), _show(default), line))
    w0, w1 = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    w2 = min(max(len(r[2]) for r in rows), 24)
    lines = [f"  {a:<{w0}}  {b:<{w1}}  {c:<{w2}}  {d}".rstrip() for a, b, c, d in rows]
    head = "options (--key=value or --key value; - and _ alike; type, default, what it is):"
    return "\n".join([f"usage: {prog}", "", doc.strip(), "", head, *lines])


def _show(value: Any) -> str:
    """A default as it would be typed (YAML): null, true, 'text', [1, 2]."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return repr(value) if isinstance(value, str) else str(value)


def _key(raw: str, aliases: dict[str, str]) -> str:
    key = raw.replace("-", "_")
    return aliases.get(key, key)


def split_argv(cls: type, argv: list[str], aliases: dict[str, str] | None = None, recipe: bool = False) -> Parsed:
    """Sort a command line into overrides, positionals and a recipe, checking every key."""
    aliases = {k.replace("-", "_"): v for k, v in (aliases or {}).items()}
    out, i = Parsed(), 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            out.positionals += argv[i:]
            break
        if not arg.startswith("--"):
            if arg.startswith("-") and len(arg) > 1 and not _is_number(arg):
                raise PonderError(f"unknown option {arg!r}; options are --key=value (see --help)")
            out.positionals.append(arg)
            continue
        body = arg[2:]
        name, has_value, raw = body.partition("=")
        if recipe and _key(name, {}) == "recipe":
            out.recipe = raw if has_value else _next(argv, i, arg)
            i += 0 if has_value else 1
            continue
        key = _key(name, aliases)
        tp = field_type(cls, key)
        if has_value:
            out.overrides.append(parse_override(f"{key}={raw}"))
        elif tp is bool:
            out.overrides.append((key, True))
        else:
            out.overrides.append((key, _next(argv, i, arg)))
            i += 1
    if recipe:
        files = [p for p in out.positionals if p.endswith((".yaml", ".yml"))]
        if len(files) + (out.recipe is not None) > 1:
            raise PonderError(f"expected one recipe file, got {files + ([out.recipe] if out.recipe else [])}")
        if files:
            out.recipe = files[0]
            out.positionals.remove(files[0])
    return out


def _next(argv: list[str], i: int, flag: str) -> str:
    if i >= len(argv):
        raise PonderError(f"{flag} needs a value ({flag}=VALUE)")
    return argv[i]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_cli(
    cls: type[T],
    argv: list[str],
    *,
    prog: str,
    doc: str,
    aliases: dict[str, str] | None = None,
    recipe: bool = False,
    max_positionals: int = 0,
) -> tuple[T, list[str]]:
    """(config, positionals) from a command line; `--help` prints help_text and raises HelpShown."""
    if any(a in ("-h", "--help") for a in argv):
        print(help_text(cls, prog, doc, aliases))
        raise HelpShown
    parsed = split_argv(cls, argv, aliases, recipe)
    if len(parsed.positionals) > max_positionals:
        extra = parsed.positionals[max_positionals:]
        hint = " (options are written --key=value)" if any("=" in a for a in extra) else ""
        raise PonderError(f"unexpected argument {extra[0]!r}{hint}")
    data = load_yaml(parsed.recipe) if parsed.recipe else {}
    return with_overrides(cls, data, parsed.overrides), parsed.positionals
