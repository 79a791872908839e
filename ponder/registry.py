"""One small Registry class: the only extension seam of ponder.

A registry maps names to objects (classes or functions) filled by a decorator at import time.
To keep `import ponder` fast, a registry knows which modules fill it and imports them in order
on a lookup, stopping at the module that registers the name asked for (so looking up a light
entry never imports a heavy module listed after it), under a lock: threads that look up at once,
as the server's request threads do, wait for the imports instead of seeing a half-filled
registry. A user plug-in is named
"path/to/file.py:function" and loaded from that file. Unknown names fail with the list of
known names.

Two ways to look up: `get(name)` returns the entry as registered (a strategy function, a data
set record); `build(name, **options)` makes the object behind a seam: a registered entry is a
factory called with the options, and a plug-in is, by the registry's `plugins` setting, either
the finished object itself ("object": a verifier or reward function; options are an error) or
a factory like the registered ones ("factory": scorers, which need the generator).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ponder.types import PonderError


def load_plugin(spec: str) -> Any:
    """Load `path/to/file.py:name` and return the object called `name` in that file."""
    path_str, _, attr = spec.rpartition(":")
    path = Path(path_str)
    if not path.is_file():
        raise PonderError(f"plug-in file not found: {path_str} (from {spec!r}; use path/to/file.py:function)")
    mod_name = f"ponder_plugin_{abs(hash(str(path.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(mod_name, path)
    if module_spec is None or module_spec.loader is None:
        raise PonderError(f"cannot import plug-in file {path_str}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[mod_name] = module
    module_spec.loader.exec_module(module)
    if attr not in vars(module):
        raise PonderError(f"plug-in {spec!r}: {path_str} defines no {attr!r}")
    return vars(module)[attr]


def is_plugin(name: str) -> bool:
    """True for a plug-in spec "path/to/file.py:name"."""
    return name.count(":") == 1 and name.split(":")[0].endswith(".py")


class Registry:
    def __init__(self, kind: str, modules: Iterable[str] = (), plugins: str = "object"):
        if plugins not in ("object", "factory"):
            raise ValueError(f"Registry plugins must be 'object' or 'factory', got {plugins!r}")
        self.kind = kind
        self.plugins = plugins
        self._modules = list(modules)
        self._items: dict[str, Any] = {}
        self._lock = threading.RLock()  # re-entrant: a module being imported may look names up
        self._importing = 0  # imports under way (their modules already left the list)

    def register(self, name: str) -> Callable[[Any], Any]:
        def deco(obj: Any) -> Any:
            if name in self._items and self._items[name] is not obj:
                raise PonderError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return deco

    def _load(self, until: str | None = None) -> None:
        """Import the listed modules in order until `until` is registered (None: all of them)."""
        if (until is not None and until in self._items) or not (self._modules or self._importing):
            return
        with self._lock:  # another thread's import in progress: wait for it
            while self._modules and (until is None or until not in self._items):
                self._importing += 1  # before the pop: the list and the count are never both empty early
                m = self._modules.pop(0)
                try:
                    # a listed module that does not exist (an optional part not installed) is
                    # skipped; an error inside one that exists is raised
                    if importlib.util.find_spec(m) is not None:
                        importlib.import_module(m)
                finally:
                    self._importing -= 1

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        self._load(name)
        return name in self._items

    def get(self, name: str) -> Any:
        """The entry registered as `name` (or the object a plug-in spec names)."""
        if is_plugin(name):
            return load_plugin(name)
        self._load(name)
        if name not in self._items:
            self._load()
            close = difflib.get_close_matches(name, self._items, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise PonderError(
                f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(sorted(self._items))} "
                f"(or a plug-in as path/to/file.py:name)"
            )
        return self._items[name]

    def build(self, name: str, **options: Any) -> Any:
        """The object behind the seam: the registered factory called with `options`, or a plug-in
        (used as it is, or called like a factory; see the module docstring)."""
        obj = self.get(name)
        if is_plugin(name) and self.plugins == "object":
            if options:
                raise PonderError(
                    f"{self.kind} plug-in {name!r} is used as it is; it takes no options ({', '.join(options)})"
                )
            return obj
        return obj(**options)
