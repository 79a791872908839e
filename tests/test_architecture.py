"""The import floors of docs/ARCHITECTURE.md, enforced: every import in ponder/ and benchmarks/
(top-level and inside functions, read with ast, nothing executed) may only go down or sideways
within its own package, never up a floor; two packages on the same floor do not
import each other (floors 2-5); and the packages' import graph has no cycle.

A failure names the file and line of each forbidden import. Lazy registry module lists are
strings, not imports, and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Room (a top-level module or package of ponder) -> floor. Lower floors never import higher ones.
FLOORS = {
    "ponder": 0,  # ponder/__init__.py: re-exports of types
    "ponder.types": 0,
    "ponder.steps": 0,
    "ponder.answers": 0,
    "ponder.stats": 0,
    "ponder.config": 1,
    "ponder.cliargs": 1,
    "ponder.registry": 1,
    "ponder.io": 1,
    "ponder.records": 1,
    "ponder.prompts": 1,
    "ponder.models": 1,
    "ponder.executor": 1,  # the executor seam (local | ray): where fanned-out work runs
    "ponder.gen": 2,
    "ponder.tasks": 2,
    "ponder.verify": 3,
    "ponder.search": 4,
    "ponder.train": 4,
    "ponder.rm": 5,
    "ponder.eval": 5,
    "ponder.data": 5,
    "ponder.serve": 5,
    "ponder.integrations": 5,  # adapters to other libraries (TRL): read train/ and verify/
    "ponder.pipeline": 6,  # drives trainers, data and eval
    "ponder.cli": 6,  # ponder/cli.py and every ponder/*/cli.py
    "benchmarks": 6,
}

# Known violations, (importing file, imported room): each names who removes it. Keep it short;
# a fixed one must be deleted here (the test fails on an entry that no longer occurs).
ALLOWED: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def room(module: str) -> str:
    """The room a module lives in: ponder.X for ponder/X(.py|/...), ponder.cli for any cli
    module, benchmarks for a benchmark script."""
    parts = module.split(".")
    if parts[0] != "ponder":
        return "benchmarks"
    if parts[-1] == "cli":
        return "ponder.cli"
    return ".".join(parts[:2])


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported ponder module) for every import statement in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            # `from ponder.eval import estimators` imports the module ponder.eval.estimators
            for a in node.names:
                sub = f"{base}.{a.name}"
                is_module = (REPO / Path(*sub.split("."))).with_suffix(".py").is_file() or (
                    REPO / Path(*sub.split("."))
                ).is_dir()
                out.append((node.lineno, sub if is_module else base))
    return [(line, m) for line, m in out if m == "ponder" or m.startswith("ponder.")]


def sources() -> list[Path]:
    return sorted((REPO / "ponder").rglob("*.py")) + sorted((REPO / "benchmarks").glob("*.py"))


def edges() -> list[tuple[Path, int, str, str]]:
    """(file, line, from room, to room) for every import between rooms."""
    out = []
    for path in sources():
        src = room(module_name(path))
        for line, target in imports(path):
            dst = room(target)
            if dst != src:
                out.append((path, line, src, dst))
    return out


def test_every_room_has_a_floor():
    rooms = {room(module_name(p)) for p in sources()}
    assert rooms <= set(FLOORS), f"rooms without a floor in FLOORS: {sorted(rooms - set(FLOORS))}"


def test_no_import_climbs_a_floor():
    bad, used = [], set()
    for path, line, src, dst in edges():
        if FLOORS[dst] > FLOORS[src]:
            key = (str(path.relative_to(REPO)), dst)
            if key in ALLOWED:
                used.add(key)
                continue
            bad.append(
                f"{path.relative_to(REPO)}:{line}: {src} (floor {FLOORS[src]}) imports {dst} (floor {FLOORS[dst]})"
            )
        elif 2 <= FLOORS[dst] == FLOORS[src] <= 5:
            bad.append(
                f"{path.relative_to(REPO)}:{line}: {src} imports {dst}, a package on its own floor {FLOORS[src]}"
            )
    assert not bad, "forbidden imports (see docs/ARCHITECTURE.md):\n" + "\n".join(bad)
    assert used == set(ALLOWED), f"allow-list entries that no longer occur (delete them): {sorted(set(ALLOWED) - used)}"


def test_packages_import_each_other_in_no_cycle():
    graph: dict[str, set[str]] = {}
    where: dict[tuple[str, str], str] = {}
    for path, line, src, dst in edges():
        if (str(path.relative_to(REPO)), dst) in ALLOWED:
            continue
        graph.setdefault(src, set()).add(dst)
        where.setdefault((src, dst), f"{path.relative_to(REPO)}:{line}")

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for nxt in sorted(graph.get(node, ())):
                if nxt == start:
                    return trail + [start]
                if nxt not in trail:
                    stack.append((nxt, trail + [nxt]))
        return None

    for start in sorted(graph):
        cyc = cycle_from(start)
        assert cyc is None, "import cycle: " + " -> ".join(f"{a} ({where[(a, b)]})" for a, b in zip(cyc, cyc[1:]))


def test_the_checker_sees_function_level_and_relative_imports(tmp_path, monkeypatch):
    pkg = REPO / "ponder" / "gen"
    src = "def f():\n    from ponder.eval import estimators\n    from ..search import engine\n"
    probe = pkg / "_architecture_probe.py"
    probe.write_text(src)
    try:
        found = imports(probe)
    finally:
        probe.unlink()
    assert found == [(2, "ponder.eval.estimators"), (3, "ponder.search.engine")]
