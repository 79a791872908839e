"""A search tree as plain data: a list of ponder.types.Node with parent links, built while a
strategy runs, serialisable to JSON, and drawn by search/html.py. Node 0 is the root (the
prompt, not generated); every other node's `text` is what it appended to its parent."""

from __future__ import annotations

from typing import Any

from ponder.types import Node


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
        """Root (excluded) down to node_id (included)."""
        out = []
        while node_id is not None and node_id != 0:
            node = self.nodes[node_id]
            out.append(node)
            node_id = node.parent
        return out[::-1]

    def text(self, node_id: int) -> str:
        """The generated text from the root to node_id."""
        return "".join(n.text for n in self.path(node_id))

    def children(self, node_id: int) -> list[Node]:
        return [self.nodes[k] for k in self._kids[node_id]]

    def choose(self, node_id: int) -> None:
        """Mark the chosen path (root to node_id) for the viewer."""
        self.nodes[0].chosen = True
        for n in self.path(node_id):
            n.chosen = True
