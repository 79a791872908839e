"""A search tree as plain data: a list of ponder.types.Node with parent links, built while a
strategy runs (through search/forest.py, which owns node creation), serialisable to JSON, and
drawn by search/html.py. Node 0 is the root (the prompt, not generated); every other node's
`text` is what it appended to its parent. `path`, `path_text` and `mark_chosen` work on a bare
node list too, which is what the engine gets back in a Pick."""

from __future__ import annotations

from typing import Any

from ponder.types import Node


def path(nodes: list[Node], node_id: int) -> list[Node]:
    """Root (excluded) down to node_id (included)."""
    out = []
    cur: int | None = node_id
    while cur is not None and cur != 0:
        node = nodes[cur]
        out.append(node)
        cur = node.parent
    return out[::-1]


def path_text(nodes: list[Node], node_id: int) -> str:
    """The generated text from the root to node_id."""
    return "".join(n.text for n in path(nodes, node_id))


def mark_chosen(nodes: list[Node], node_id: int) -> None:
    """Mark the chosen path (root to node_id) for the viewer."""
    nodes[0].chosen = True
    for n in path(nodes, node_id):
        n.chosen = True


class Tree:
    def __init__(self, root_text: str = ""):
        self.nodes: list[Node] = [Node(id=0, parent=None, text=root_text, depth=0)]
        self._kids: dict[int, list[int]] = {0: []}

    def add(self, parent: int, text: str, **fields: Any) -> int:
        node = Node(id=len(self.nodes), parent=parent, text=str(text), depth=self.nodes[parent].depth + 1, **fields)
        self.nodes.append(node)
        self._kids[parent].append(node.id)
        self._kids[node.id] = []
        return node.id

    def path(self, node_id: int) -> list[Node]:
        return path(self.nodes, node_id)

    def text(self, node_id: int) -> str:
        return path_text(self.nodes, node_id)

    def children(self, node_id: int) -> list[Node]:
        return [self.nodes[k] for k in self._kids[node_id]]
