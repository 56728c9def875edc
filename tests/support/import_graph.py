"""The project's own import graph, read with `ast`, and the cycles in it.

Every import a module makes when it runs counts, wherever it is written (top
level or inside a function: an import put in a function to break a cycle is
still the cycle). Imports under `if TYPE_CHECKING:` do not: they never run.
`from pkg import name` is an edge to the module pkg.name when there is one,
else to pkg. Importing pkg.sub runs pkg's __init__ first, so it is an edge to
every parent package of pkg.sub as well, except the importer's own parent
packages: Python has started those already before the importer runs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

PACKAGES = (
    "registry_monitor",
    "exporter",
    "checks",
    "alerts",
    "dashboards",
    "bench",
    "testbed",
    "demo",
)


def modules(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """module name -> file, for every .py of the packages under root."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _run_time_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except the bodies of `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def absolute_name(current: str, is_package: bool, level: int, module: str | None) -> str:
    """The absolute name of `from <level dots><module> import ...` inside module `current`."""
    if level == 0:
        return module or ""
    package = current.split(".") if is_package else current.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `name` imports when it runs."""
    out: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in _run_time_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = absolute_name(name, is_package, node.level, node.module)
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                out.add(sub if sub in known else base)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            out.add(node.args[0].value)
    own_parents = _parents(name)
    out |= {parent for m in out for parent in _parents(m) if parent not in own_parents}
    return {m for m in out if m in known and m != name}


def _parents(name: str) -> set[str]:
    """The packages whose __init__ runs before module `name`: a.b.c -> {a, a.b}."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def cycles(root: Path, packages: Iterable[str] = PACKAGES) -> list[list[str]]:
    """Each group of modules that import each other round (Tarjan's strongly connected
    components of more than one module), sorted."""
    known = modules(root, packages)
    graph = {name: sorted(imports_of(name, path, known)) for name, path in known.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def reached(root: Path, start: str, packages: Iterable[str] = PACKAGES) -> set[str]:
    """Every project module that importing `start` runs, itself and the packages whose
    __init__ Python runs first included."""
    known = modules(root, packages)
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in known:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        todo.extend(imports_of(name, known[name], known))
    return seen
