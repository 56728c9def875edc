"""Reading a config file that may be a typo or a bad template: bounded in time and size.

A FIFO or a device never blocks the read (only regular files are read, at
most MAX_CONFIG_BYTES); YAML aliases may not expand the document past
MAX_EXPANDED_NODES nodes (a 500-byte "billion laughs" stays 500 bytes) nor
refer to themselves; nesting stops at MAX_DEPTH instead of at Python's
recursion limit. Every refusal is one short ValueError sentence.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_CONFIG_BYTES = 1024 * 1024
MAX_EXPANDED_NODES = 100_000
MAX_DEPTH = 64


class ConfigFileError(ValueError):
    """The file cannot be read as a config; the message is one short sentence."""


def read_config_bytes(path: Path) -> bytes:
    """The file's bytes, if it is a regular file of at most MAX_CONFIG_BYTES."""
    # O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigFileError("not a regular file")
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigFileError(f"larger than {MAX_CONFIG_BYTES} bytes ({info.st_size})")
        data = file.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigFileError(f"larger than {MAX_CONFIG_BYTES} bytes")
    return data


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
