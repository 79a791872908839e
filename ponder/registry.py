"""One small Registry class: the only extension seam of ponder.

A registry maps names to objects (classes or functions) filled by a decorator at import time.
To keep `import ponder` fast, a registry knows which modules fill it and imports them on the
first lookup (under a lock: threads that look up concurrently, as the server's request threads
do, wait for the imports instead of seeing a half-filled registry). A user plug-in is named "path/to/file.py:function" and loaded from that file.
Unknown names fail with the list of known names.
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


class Registry:
    def __init__(self, kind: str, modules: Iterable[str] = ()):
        self.kind = kind
        self._modules = list(modules)
        self._items: dict[str, Any] = {}
        self._loaded = False  # imports finished
        self._loading = False  # imports under way (a module being imported may look names up)
        self._lock = threading.RLock()

    def register(self, name: str) -> Callable[[Any], Any]:
        def deco(obj: Any) -> Any:
            if name in self._items and self._items[name] is not obj:
                raise PonderError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return deco

    def _load(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded or self._loading:
                return
            self._loading = True
            try:
                for m in self._modules:
                    # a listed module that does not exist (an optional part not installed) is skipped;
                    # an error inside one that exists is raised
                    if importlib.util.find_spec(m) is not None:
                        importlib.import_module(m)
            finally:
                self._loaded, self._loading = True, False

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._items

    def get(self, name: str) -> Any:
        if name.count(":") == 1 and name.split(":")[0].endswith(".py"):
            return load_plugin(name)
        self._load()
        if name not in self._items:
            close = difflib.get_close_matches(name, self._items, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise PonderError(
                f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(sorted(self._items))} "
                f"(or a plug-in as path/to/file.py:name)"
            )
        return self._items[name]
