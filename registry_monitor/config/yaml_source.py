"""YAML within bounds: aliases may not expand the document past MAX_EXPANDED_NODES
nodes (a 500-byte "billion laughs" stays 500 bytes) nor refer to themselves; nesting
stops at MAX_DEPTH instead of at Python's recursion limit. Every refusal is one
short ConfigFileError sentence.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from registry_monitor.config.file_bounds import ConfigFileError

MAX_EXPANDED_NODES = 100_000
MAX_DEPTH = 64


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents nested deeper than MAX_DEPTH."""

    depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise ConfigFileError(
                    f"nested more than {MAX_DEPTH} levels deep (line {mark.line + 1})"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def expanded_size(root: Node) -> int:
    """How many nodes the document has once every alias is expanded (capped just past
    MAX_EXPANDED_NODES); a walk over the shared graph, each node counted once."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if children_done:
            open_nodes.discard(id(node))
            total = 1 + sum(sizes[id(c)] for c in children)
            sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
            continue
        open_nodes.add(id(node))
        stack.append((node, True))
        for child in children:
            if id(child) in open_nodes:
                line = child.start_mark.line + 1
                raise ConfigFileError(f"an alias contains itself (line {line})")
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def parse_yaml(data: bytes) -> object:
    """The one YAML document in data, within the bounds above."""
    loader = _BoundedLoader(data)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if expanded_size(node) > MAX_EXPANDED_NODES:
            raise ConfigFileError(f"aliases expand to more than {MAX_EXPANDED_NODES} values")
        return loader.construct_document(node)
    except RecursionError:  # a bound above missed a way to nest: still one line
        raise ConfigFileError("nested too deeply") from None
    finally:
        loader.dispose()
