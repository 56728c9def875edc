"""Where a face singles out probes by name instead of asking the catalog, read with `ast`.

Counted: a comparison with a probe's name (`name == "storage"`, `name in {...}`, a
`match` case), and a hand-written collection of two or more probe names (a set,
tuple, list or dict's keys). A comparison with a node's role is not one ("standby"
is a role as well as a probe).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path


def _names_in(node: ast.AST, probes: frozenset[str]) -> list[str]:
    """The probe names a literal is, or holds (one level deep: a set, tuple or list)."""
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) and node.value in probes else []
    if isinstance(node, ast.Set | ast.Tuple | ast.List):
        return [n for element in node.elts for n in _names_in(element, probes)]
    if isinstance(node, ast.Call) and node.args:  # frozenset({...}), set((...))
        return _names_in(node.args[0], probes)
    return []


def _is_role(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "role") or (
        isinstance(node, ast.Name) and node.id == "role"
    )


def special_cases(root: Path, packages: Iterable[str], probes: Iterable[str]) -> list[str]:
    """`path:line: names` for each place in the packages that singles out probes by name."""
    names = frozenset(probes)
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            where = path.relative_to(root)
            for node in ast.walk(tree):
                hits: list[str] = []
                if isinstance(node, ast.Compare):
                    operands = [node.left, *node.comparators]
                    if not any(_is_role(o) for o in operands):
                        hits = [n for o in operands for n in _names_in(o, names)]
                elif isinstance(node, ast.MatchValue):
                    hits = _names_in(node.value, names)
                elif isinstance(node, ast.Set | ast.Tuple | ast.List):
                    listed = _names_in(node, names)
                    hits = listed if len(listed) > 1 else []
                elif isinstance(node, ast.Dict):
                    keys = [n for k in node.keys if k is not None for n in _names_in(k, names)]
                    hits = keys if len(keys) > 1 else []
                if hits:
                    found.append(f"{where}:{node.lineno}: {', '.join(hits)}")
    return sorted(set(found))
