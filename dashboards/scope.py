"""Where a panel looks: the whole pair (the overview) or the one node picked (node detail).

A panel both dashboards show is built once, from its scope: the scope keeps the series to
its nodes, names them, and links the pair's series to their node's detail dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from dashboards.panels import metric, on_node, with_node

T = TypeVar("T")

# A pair series named by its node and that node's role.
NODE_ROLE = "{{node}} ({{role}})"


@dataclass(frozen=True)
class Scope:
    pair: bool

    def select(self, expr: str) -> str:
        """expr labelled with its node (pair) or kept to the node picked (node)."""
        return with_node(expr) if self.pair else on_node(expr)

    def legend(self, node: str, pair: str | None = None) -> str:
        """The series name: `node` on one node; on the pair, `pair`, or `node` after the node."""
        if not self.pair:
            return node
        return pair if pair is not None else f"{{{{node}}}} {node}"

    def pick(self, pair: T, node: T) -> T:
        """What differs between the two dashboards: text for their readers, layout."""
        return pair if self.pair else node

    @property
    def detail_link(self) -> bool:
        """Only the overview links a series to its node's detail dashboard."""
        return self.pair


PAIR = Scope(pair=True)
NODE = Scope(pair=False)


def on_role(expr: str, role: str) -> str:
    """expr (with node labels) kept to the nodes whose role is `role`."""
    return f"{with_node(expr)} and on (job, cluster, instance) {metric('node_info', role=role)}"
